import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../plumbing/paths.ts";
import { checklist, RELEASE_TOOL_DIR } from "../release/tool.ts";
import { OUTSIDE_CHECKS } from "./verify.ts";

/** The ids release_checklist.py registers a function for (@check), as python3 imports the module. */
function toolCheckIds(): string[] {
  const code = "import sys; sys.path.insert(0, sys.argv[1]); import release_checklist; print('\\n'.join(release_checklist.CHECKS))";
  return execFileSync("python3", ["-c", code, fileURLToPath(RELEASE_TOOL_DIR)], { encoding: "utf8" }).split("\n").filter(Boolean);
}

describe("the checklist", () => {
  it("has unique ids, a sentence, an expectation and a place to look for each check", () => {
    const checks = checklist();
    expect(new Set(checks.map((c) => c.id)).size).toBe(checks.length);
    for (const c of checks) {
      expect(c.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(["server", "http", "outside"]).toContain(c.side);
      for (const text of [c.sentence, c.expects, c.lookAt]) expect(text.length, c.id).toBeGreaterThan(5);
    }
  });

  it("is the README's table of checks, row for row", () => {
    const page = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
    const rows = [...page.matchAll(/^\| `([a-z-]+)` \| (server|http|outside) \| (.+) \|$/gm)].map((m) => ({ id: m[1], side: m[2], sentence: m[3] }));
    expect(rows).toEqual(checklist().map(({ id, side, sentence }) => ({ id, side, sentence })));
  });

  it("has one function per check: the release tool's for what the server sees, verify's for the outside view, and none without a row", () => {
    const bySide = (outside: boolean) => checklist().filter((c) => (c.side === "outside") === outside).map((c) => c.id).sort();
    expect(toolCheckIds().sort()).toEqual(bySide(false));
    expect(Object.keys(OUTSIDE_CHECKS).sort()).toEqual(bySide(true));
  });
});
