import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { NO_HOOKS, type Hooks } from "../domain/hooks.ts";
import { FAULTS, type Fault } from "./catalogue.ts";
import { settings } from "../plumbing/settings.ts";

/**
 * The one way a fault gets into a run: the variable names a catalogue entry, and the run's hooks
 * (harness/domain/hooks.ts) apply it to the recipe's files, the release steps, the pipeline and the
 * sample project on their way out. Source files are never edited. Only the top of the harness (the
 * specs' setup, the fault runner) reads the variable; everything below gets the hooks it is given.
 */
export const FAULT_VARIABLE = "TESTBED_FAULT";

/** The fault the settings name (TESTBED_FAULT), if any; an unknown id is an error that lists the known ones. */
export function faultNamed(id = settings().fault): Fault | undefined {
  if (!id) return undefined;
  const fault = FAULTS.find((f) => f.id === id);
  if (!fault) throw new Error(`${FAULT_VARIABLE}=${id}: no such fault in harness/faults/catalogue.ts; known: ${FAULTS.map((f) => f.id).join(", ")}`);
  return fault;
}

/** The hooks for the fault the settings name: NO_HOOKS when they name none. */
export function faultHooksNamed(id = settings().fault): Hooks {
  const fault = faultNamed(id);
  return fault ? faultHooks(fault) : NO_HOOKS;
}

/** Whether a fault changes what the servers hold (so snapshots must be made with it). */
export const faultShapesServers = (fault: Fault): boolean => !!(fault.inject.file || fault.inject.mode || fault.inject.steps || fault.inject.fixture);

/** Where a fault's changed copies of a project go: `npm run faults` removes them after each fault. */
export const FAULT_COPY_PREFIX = "ddt-fault-fixture-";

export function faultHooks(fault: Fault): Hooks {
  const { inject } = fault;
  // One changed copy per project directory and hooks value, made when first asked for.
  const copies = new Map<string, string>();
  return {
    serversKey: faultShapesServers(fault) ? `fault-${fault.id}` : undefined,
    file: (path, text) => inject.file?.(path, text) ?? text,
    mode: (path, mode) => inject.mode?.(path, mode) ?? mode,
    pipeline: (yaml) => inject.pipeline?.(yaml) ?? yaml,
    steps: <T extends { step: string }>(steps: ReadonlyArray<T>) => (inject.steps ? (inject.steps(steps) as ReadonlyArray<T>) : steps),
    project(dir) {
      if (!inject.fixture) return dir;
      let copy = copies.get(dir);
      if (!copy) {
        copy = join(mkdtempSync(join(tmpdir(), FAULT_COPY_PREFIX)), basename(dir));
        cpSync(dir, copy, { recursive: true });
        for (const [path, transform] of Object.entries(inject.fixture)) writeFileSync(join(copy, path), transform(readFileSync(join(copy, path), "utf8")));
        copies.set(dir, copy);
      }
      return copy;
    },
  };
}
