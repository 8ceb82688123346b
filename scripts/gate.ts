// A Django team's gate on its own repository: `npm run gate -- --project PATH [--junit FILE] [--base SPEC] [--keep]`
// (also `npx django-deploy-testbed gate --project .`). Preflight by Django itself, then deploys,
// checklists, a redeploy, two broken releases and a rollback, under traffic, on throwaway servers.
// Prints a summary table, writes JUnit (reports/gate-junit.xml by default), exits 0 only when every
// environment deployed and every check passed.
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runGate } from "../harness/gate/gate.ts";
import { gateJunit, gateTable } from "../harness/gate/gate-report.ts";
import { ensureEngineForRun, log, main, useFlags } from "./cli.ts";

await main(async () => {
  const { values } = parseArgs({ options: { project: { type: "string" }, junit: { type: "string" }, base: { type: "string" }, keep: { type: "boolean" } } });
  if (!values.project) throw new Error("the gate needs a project: npm run gate -- --project PATH (the repository with your manage.py)");
  useFlags({ base: values.base });
  await ensureEngineForRun();
  // Detached: when this process ends however it ends (Ctrl-C included), it removes what the gate made.
  spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./reaper.ts", import.meta.url)), String(process.pid)], { detached: true, stdio: ["ignore", "ignore", "inherit"] }).unref();
  const result = await runGate({ projectDir: resolve(values.project), base: values.base, log, keep: values.keep });
  const junit = resolve(values.junit ?? "reports/gate-junit.xml");
  await mkdir(dirname(junit), { recursive: true });
  await writeFile(junit, gateJunit(result));
  process.stdout.write(gateTable(result));
  log.info(`gate: JUnit in ${junit}`);
  return result.passed ? 0 : 1;
});
