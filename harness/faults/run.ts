import { FAULTS, type Fault } from "./catalogue.ts";
import { FAULT_VARIABLE } from "./inject.ts";
import type { Logger } from "../plumbing/log.ts";
import { caseCounts, faultsReport, junitCases, verdictOf, type FaultResult, type FaultsReport } from "./verdict.ts";

/** One vitest run of some e2e spec files: the caller spawns it and it writes a JUnit file. */
export interface SpecRun {
  files: string[];
  /** vitest's -t: only tests whose full name matches. */
  testFilter?: string;
  env: Record<string, string>;
  junitPath: string;
  /** vitest's workers for this run (its default, 2 here, when not set). */
  maxWorkers?: number;
}

export interface FaultRunIo {
  runSpecs(run: SpecRun): Promise<void>;
  readText(path: string): Promise<string>;
  /** Removes what a fault's run left: its own snapshots, its fixture copies. */
  cleanup(fault: Fault): Promise<void>;
  log: Logger;
  now(): number;
}

/** The global setup's test goes with every run, so a broken provisioning shows as a named failure. */
const SETUP_SPEC = "specs/e2e/setup.test.ts";
const specFile = (name: string) => `specs/e2e/${name}.test.ts`;
/** A test filter that also keeps the global setup's test. */
const withSetup = (tests?: string) => (tests ? `(${tests})|global setup` : undefined);

/** Picks faults by id; an unknown id is an error that lists the known ones. */
export function selectFaults(only: string[] | undefined, all: ReadonlyArray<Fault> = FAULTS): Fault[] {
  if (!only?.length) return [...all];
  const unknown = only.filter((id) => !all.some((f) => f.id === id));
  if (unknown.length) throw new Error(`--only: no fault ${unknown.join(", ")} in harness/faults/catalogue.ts; known: ${all.map((f) => f.id).join(", ")}`);
  return all.filter((f) => only.includes(f.id));
}

/**
 * Runs each fault, one after another, on fresh testbeds (its own snapshots when it changes the
 * servers), with the spec files that concern it; a baseline run without any fault comes first, so a
 * failure can be laid at the fault's door.
 */
export async function runFaults(faults: Fault[], io: FaultRunIo, opts: { baseline: boolean; reportsDir: string }): Promise<FaultsReport> {
  let baseline: FaultsReport["baseline"];
  if (opts.baseline) {
    const started = io.now();
    const files = [...new Set(faults.flatMap((f) => f.specs))].map(specFile);
    const junitPath = `${opts.reportsDir}/baseline.junit.xml`;
    io.log.info(`faults: baseline, no fault: ${files.join(" ")}`);
    await io.runSpecs({ files: [SETUP_SPEC, ...files], env: {}, junitPath });
    const cases = junitCases(await io.readText(junitPath));
    const failed = cases.filter((c) => c.failure);
    baseline = { ...caseCounts(cases), durationMs: io.now() - started };
    if (failed.length) throw new Error(`faults: the baseline run (no fault injected) failed ${failed.map((c) => `"${c.name}"`).join(", ")}: fix that first, or no fault's result means anything. Report: ${junitPath}`);
  }
  const results: FaultResult[] = [];
  for (const fault of faults) {
    const started = io.now();
    const junitPath = `${opts.reportsDir}/${fault.id}.junit.xml`;
    io.log.info(`faults: ${fault.id} (${fault.where}): ${fault.description}`);
    try {
      await io.runSpecs({ files: [SETUP_SPEC, ...fault.specs.map(specFile)], testFilter: withSetup(fault.tests), env: { [FAULT_VARIABLE]: fault.id }, junitPath });
    } finally {
      await io.cleanup(fault);
    }
    const result = verdictOf(fault, await io.readText(junitPath), io.now() - started);
    io.log.info(`faults: ${fault.id}: ${result.verdict}${result.test ? ` by ${result.test}` : ""}${result.missingWords.length && result.verdict !== "missed" ? `; the message lacks ${result.missingWords.join(", ")}` : ""}`);
    results.push(result);
  }
  return faultsReport(results, baseline);
}
