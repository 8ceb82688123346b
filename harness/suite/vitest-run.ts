import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../plumbing/paths.ts";
import type { SpecRun } from "../faults/run.ts";
import { childEnv } from "../plumbing/settings.ts";

/**
 * vitest on some e2e spec files in a child process, its JUnit report at `run.junitPath`. Its own
 * output goes to the `.log` beside the report, or to this terminal with `inherit` (then with its
 * default reporter). Resolves with vitest's exit code: a red run is often the point.
 */
export async function runVitest(run: SpecRun, output: "log" | "inherit" = "log"): Promise<number> {
  const reporters = output === "log" ? ["--reporter=dot", "--reporter=junit"] : ["--reporter=default", "--reporter=junit"];
  const args = ["run", "--project", "e2e", ...reporters, `--outputFile.junit=${run.junitPath}`, ...(run.testFilter ? ["-t", run.testFilter] : []), ...(run.maxWorkers ? [`--maxWorkers=${run.maxWorkers}`] : []), ...run.files];
  const out = output === "log" ? openSync(run.junitPath.replace(/(\.junit)?\.xml$/, ".log"), "w") : undefined;
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [join(PROJECT_ROOT, "node_modules", "vitest", "vitest.mjs"), ...args], {
        cwd: PROJECT_ROOT,
        env: childEnv({ ...run.env, ...(out === undefined ? {} : { TESTBED_QUIET: "1" }) }),
        stdio: out === undefined ? "inherit" : ["ignore", out, out],
      });
      child.on("error", reject);
      child.on("exit", (code) => resolve(code ?? 1));
    });
  } finally {
    if (out !== undefined) closeSync(out);
  }
}
