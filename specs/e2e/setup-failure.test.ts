import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { docker } from "../../harness/docker/client.ts";
import { FAULT_VARIABLE } from "../../harness/faults/inject.ts";
import { junitCases } from "../../harness/faults/verdict.ts";
import { runVitest } from "../../harness/suite/vitest-run.ts";

const dir = await mkdtemp(join(tmpdir(), "ddt-setup-failure-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("a provisioning that fails in the global setup", () => {
  it("is a failed test named after the step, with systemd's words and the diagnostics; the other tests are skipped", async () => {
    // A unit the recipe writes with the seed's `WorkingDirectory=~/...`, in a vitest of its own.
    const junitPath = join(dir, "junit.xml");
    const code = await runVitest({ files: ["specs/e2e/setup.test.ts", "specs/e2e/testbed.test.ts"], env: { [FAULT_VARIABLE]: "workdir-tilde" }, junitPath, maxWorkers: 1 });
    const output = await readFile(join(dir, "junit.log"), "utf8");
    expect(code, output).toBe(1);
    const cases = junitCases(await readFile(junitPath, "utf8"));
    const failed = cases.filter((c) => c.failure);
    expect(failed.map((c) => c.name), output).toEqual(['global setup > step "app: gunicorn units" (provision) failed']);
    const message = failed[0]!.failure!.message!;
    expect(message).toMatch(/systemd-analyze verify rejects the gunicorn units/);
    expect(message).toMatch(/gunicorn@\.service:\d+: WorkingDirectory= path is not absolute: ~\/home\//);
    expect(message).toContain("Diagnostics from the snapshot testbed");
    const others = cases.filter((c) => c.classname.endsWith("testbed.test.ts"));
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((c) => c.skipped !== undefined && !c.failure)).toBe(true);
    // vitest's own summary counts it.
    expect(output.replace(/\x1b\[[0-9;]*m/g, "")).toMatch(/Tests\s+1 failed \| \d+ skipped/);
    // The fault's snapshots never came to be, and its servers are gone.
    const tags = (await docker().listImages()).flatMap((i) => i.RepoTags ?? []);
    expect(tags.filter((t) => t.includes("/fault-workdir-tilde-"))).toEqual([]);
  });
});
