import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { commandTimings, jobScript, plainLog, tellingLines } from "./job-script.ts";

const bash = (script: string) => {
  try {
    return { code: 0, out: execFileSync("bash", ["-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
  } catch (err) {
    const e = err as { status: number; stdout: string };
    return { code: e.status, out: e.stdout };
  }
};

describe("job script", () => {
  it("echoes each command as GitLab does, runs it, and stops at the first failure", () => {
    const r = bash(jobScript(["echo one", "printf 'two\\nlines\\n' | cat\necho more", "false", "echo never"], "/"));
    expect(r.code).toBe(1);
    const log = plainLog(r.out);
    expect(log).toBe("$ echo one\none\n$ printf 'two\\nlines\\n' | cat # collapsed multi-line command\ntwo\nlines\nmore\n$ false\n");
  });

  it("fails a pipeline whose first command fails (pipefail)", () => {
    expect(bash(jobScript(["false | cat"], "/")).code).toBe(1);
  });

  it("times each command from the log's markers", () => {
    const r = bash(jobScript(["sleep 0.5", "true"], "/"));
    const t = commandTimings(r.out);
    expect(t.map((x) => x.command)).toEqual(["sleep 0.5", "true"]);
    // A sleep lasts at least its length; `true` is compared with it, not with a figure that a
    // loaded machine could miss.
    expect(t[0]!.ms).toBeGreaterThanOrEqual(490);
    expect(t[1]!.ms).toBeLessThan(t[0]!.ms);
  });

  it("times the command that fails the job too, and keeps the job's exit status", () => {
    const r = bash(jobScript(["true", "sleep 0.3; exit 7", "echo never"], "/"));
    expect(r.code).toBe(7);
    const t = commandTimings(r.out);
    expect(t.map((x) => x.command)).toEqual(["true", "sleep 0.3; exit 7"]);
    expect(t[1]!.ms).toBeGreaterThanOrEqual(290);
  });
});

describe("telling lines of a job log", () => {
  it("quotes the lines that explain an outcome, with what each means, and nothing when none is there", () => {
    const log = [
      "\x1b[32;1m$ ssh deploy-target true\x1b[0;m",
      "Warning: Permanently added 'myappserver' (ED25519) to the list of known hosts.",
      "*deleting   myprojectenv",
      "Load key \"/root/.ssh/id_deploy\": error in libcrypto",
    ].join("\n");
    const said = tellingLines(log);
    expect(said).toContain(`StrictHostKeyChecking is not yes): "Warning: Permanently added 'myappserver' (ED25519) to the list of known hosts."`);
    expect(said).toContain(`rsync --delete removed the release's venv link: "*deleting   myprojectenv"`);
    expect(said).toContain(`CRLF line endings, a truncated key?): "Load key "/root/.ssh/id_deploy": error in libcrypto"`);
    expect(tellingLines("$ true\nall fine\n")).toBe("");
  });
});
