import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { raw, sh, shellQuote, shText, sqlIdent, sqlLiteral } from "./quote.ts";

const HOSTILE = ["it's", "a b", "$(touch /tmp/pwned)", "`id`", "x; rm -rf /", "a\nb", '"q"', "\\", "&&", "(", "*", "#c", "", "-n", "ü ✓"];

/** What bash really receives: each argument on its own line, NUL-free. */
function argv(command: string): string[] {
  const out = execFileSync("bash", ["-c", `${command}`], { encoding: "utf8" });
  return out.split("\0").slice(0, -1);
}

describe("the quoting template", () => {
  it("delivers every hostile value to bash as exactly one literal word", () => {
    for (const value of HOSTILE) {
      expect(argv(sh`printf '%s\\0' ${value}`), JSON.stringify(value)).toEqual([value]);
    }
    expect(argv(sh`printf '%s\\0' ${HOSTILE}`)).toEqual(HOSTILE);
  });

  it("keeps plain words readable and nests commands without quoting them twice", () => {
    expect(shellQuote("/home/u/prod/myproject")).toBe("/home/u/prod/myproject");
    const inner = shText`cd ${"/srv/a b"} && ls`;
    expect(sh`bash -c ${inner.text}`).toBe(`bash -c 'cd '\\''/srv/a b'\\'' && ls'`);
    expect(sh`echo ${raw("$HOME")}`).toBe("echo $HOME");
    expect(String(inner)).toBe("cd '/srv/a b' && ls");
    expect(`${inner}`).toBe(inner.text);
    expect(argv(sh`bash -c ${sh`printf '%s\\0' ${"it's $x"}`}`)).toEqual(["it's $x"]);
  });

  it("escapes SQL identifiers and literals as Postgres reads them", () => {
    expect(sqlIdent('my"db')).toBe('"my""db"');
    expect(sqlLiteral("pa'ss")).toBe("'pa''ss'");
    expect(sqlLiteral("back\\slash")).toBe(" E'back\\\\slash'");
  });
});
