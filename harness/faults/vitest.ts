import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.ts";
import type { SpecRun } from "./run.ts";

/**
 * vitest on some e2e spec files in a child process, its JUnit report at `run.junitPath` and its own
 * output in the `.log` beside it. Resolves with vitest's exit code: a red run is often the point.
 */
export async function runVitest(run: SpecRun): Promise<number> {
  const args = ["run", "--project", "e2e", "--reporter=dot", "--reporter=junit", `--outputFile.junit=${run.junitPath}`, ...(run.testFilter ? ["-t", run.testFilter] : []), ...run.files];
  const out = openSync(run.junitPath.replace(/(\.junit)?\.xml$/, ".log"), "w");
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [join(PROJECT_ROOT, "node_modules", "vitest", "vitest.mjs"), ...args], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...run.env, TESTBED_QUIET: "1" },
        stdio: ["ignore", out, out],
      });
      child.on("error", reject);
      child.on("exit", (code) => resolve(code ?? 1));
    });
  } finally {
    closeSync(out);
  }
}
