// `npm run faults`: the project measures its own power. Each catalogued fault (harness/faults/catalogue.ts)
// is injected into a run of the specs that concern it; the table says which were caught, caught
// without naming the cause, or missed, and reports/faults.json holds the kill rate.
//   npm run faults -- --only workdir-tilde,no-partof     some faults only
//   npm run faults -- --no-baseline                      skip the run without any fault
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { docker } from "../../harness/docker/client.ts";
import type { Fault } from "../../harness/faults/catalogue.ts";
import { FAULT_COPY_PREFIX } from "../../harness/faults/inject.ts";
import { runFaults, selectFaults } from "../../harness/faults/run.ts";
import { runVitest } from "../../harness/suite/vitest-run.ts";
import { faultsTable } from "../../harness/faults/verdict.ts";
import { PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { log, main } from "../cli.ts";

const REPORTS = join(PROJECT_ROOT, "reports", "faults");

/** A fault's own snapshots and fixture copies: nothing of it may outlive its run. */
async function cleanup(fault: Fault): Promise<void> {
  const images = await docker().listImages();
  const prefix = `django-deploy-testbed/fault-${fault.id}-`;
  for (const tag of images.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(prefix))) {
    await docker().getImage(tag).remove({ force: true }).catch(() => undefined);
  }
  for (const dir of (await readdir(tmpdir())).filter((d) => d.startsWith(FAULT_COPY_PREFIX))) {
    await rm(join(tmpdir(), dir), { recursive: true, force: true });
  }
}

await main(async () => {
  const { values } = parseArgs({ options: { only: { type: "string" }, "no-baseline": { type: "boolean" } } });
  const faults = selectFaults(values.only?.split(",").map((s) => s.trim()).filter(Boolean));
  await mkdir(REPORTS, { recursive: true });
  const report = await runFaults(faults, { runSpecs: async (run) => void (await runVitest(run)), readText: (p) => readFile(p, "utf8"), cleanup, log, now: Date.now }, { baseline: !values["no-baseline"], reportsDir: REPORTS });
  const path = join(PROJECT_ROOT, "reports", "faults.json");
  await writeFile(path, JSON.stringify(report, null, 2) + "\n");
  process.stdout.write(`\n${faultsTable(report)}\n\nreport: ${path} (each run's JUnit and log: ${REPORTS}/)\n`);
  return report.killRate === 1 ? 0 : 1;
});
