import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FAULTS, type Fault } from "./catalogue.ts";

/**
 * The one way a fault gets into a run: the variable names a catalogue entry, and the recipe's and
 * the generator's own outputs pass through the functions below on their way out. With the variable
 * unset (every normal run) each is the identity. Source files are never edited.
 */
export const FAULT_VARIABLE = "TESTBED_FAULT";

export function activeFault(env: NodeJS.ProcessEnv = process.env): Fault | undefined {
  const id = env[FAULT_VARIABLE];
  if (!id) return undefined;
  const fault = FAULTS.find((f) => f.id === id);
  if (!fault) throw new Error(`${FAULT_VARIABLE}=${id}: no such fault in harness/faults/catalogue.ts; known: ${FAULTS.map((f) => f.id).join(", ")}`);
  return fault;
}

/** Whether the active fault changes what the servers hold (so snapshots must be made with it). */
export function faultShapesServers(fault = activeFault()): boolean {
  return !!fault && !!(fault.inject.file || fault.inject.mode || fault.inject.steps || fault.inject.fixture);
}

/** A file the recipe writes to a server, by its path on the server. */
export function injectFile(path: string, text: string): string {
  return activeFault()?.inject.file?.(path, text) ?? text;
}

/** The mode the recipe gives a file it writes. */
export function injectMode(path: string, mode: string): string {
  return activeFault()?.inject.mode?.(path, mode) ?? mode;
}

/** A pipeline as the executor receives it: the generated .gitlab-ci.yml, or one a spec built from its parts. */
export function injectPipeline(yaml: string): string {
  return activeFault()?.inject.pipeline?.(yaml) ?? yaml;
}

/** The release steps, in the order the recipe and the pipeline run them. */
export function injectSteps<T extends { step: string }>(steps: ReadonlyArray<T>): ReadonlyArray<T> {
  const transform = activeFault()?.inject.steps;
  return transform ? (transform(steps as ReadonlyArray<{ step: string }>) as ReadonlyArray<T>) : steps;
}

/** The sample project: with a fixture fault, a changed copy (made once per process). */
export function injectFixture(dir: string): string {
  const fixture = activeFault()?.inject.fixture;
  if (!fixture) return dir;
  const copy = join(mkdtempSync(join(tmpdir(), "ddt-fault-fixture-")), "myproject");
  cpSync(dir, copy, { recursive: true });
  for (const [path, transform] of Object.entries(fixture)) {
    writeFileSync(join(copy, path), transform(readFileSync(join(copy, path), "utf8")));
  }
  return copy;
}
