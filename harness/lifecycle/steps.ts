import { formatDuration, type Logger } from "../plumbing/log.ts";

/** The lifecycle's phases; every step belongs to one, so timings can be summed per phase. */
export type Phase = "build" | "boot" | "provision" | "deploy" | "verify" | "teardown";

/** What the runner hands every step besides its context: where to log and record timings. */
export interface StepExecution {
  log: Logger;
  timings: StepTiming[];
  /** 0 for a top-level step, 1 inside a concurrently() group, ... */
  depth: number;
}

export interface Step<C> {
  name: string;
  phase: Phase;
  run(ctx: C, exec: StepExecution): Promise<void>;
}

export interface StepTiming {
  name: string;
  phase: Phase;
  ms: number;
  ok: boolean;
  depth: number;
}

export class StepError extends Error {
  constructor(readonly step: string, readonly phase: Phase, readonly ms: number, cause: unknown) {
    super(`step "${step}" (${phase}) failed after ${formatDuration(ms)}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "StepError";
  }
}

/**
 * Runs steps in order, logging each one's start and duration; the first failure stops the run
 * with a StepError naming the step. Timings are appended to `timings` as they happen.
 */
export async function runSteps<C>(steps: ReadonlyArray<Step<C>>, ctx: C, log: Logger, timings: StepTiming[] = [], depth = 0): Promise<StepTiming[]> {
  for (const step of steps) {
    const started = Date.now();
    log.info(`▶ ${step.name}`);
    try {
      await step.run(ctx, { log, timings, depth });
    } catch (err) {
      const ms = Date.now() - started;
      timings.push({ name: step.name, phase: step.phase, ms, ok: false, depth });
      log.info(`✗ ${step.name} failed after ${formatDuration(ms)}`);
      throw err instanceof StepError ? err : new StepError(step.name, step.phase, ms, err);
    }
    const ms = Date.now() - started;
    timings.push({ name: step.name, phase: step.phase, ms, ok: true, depth });
    log.info(`✓ ${step.name} (${formatDuration(ms)})`);
  }
  return timings;
}

/** One row per step (inner steps of a concurrent group indented, after it); the total counts top-level steps. */
export function timingSummary(timings: StepTiming[]): string {
  const name = (t: StepTiming) => `${"  ".repeat(t.depth)}${t.name}`;
  const width = Math.max(...timings.map((t) => name(t).length), 5);
  const ordered = orderForDisplay(timings);
  const rows = ordered.map((t) => `  ${name(t).padEnd(width)}  ${formatDuration(t.ms).padStart(7)}${t.ok ? "" : "  FAILED"}`);
  const total = timings.filter((t) => t.depth === 0).reduce((s, t) => s + t.ms, 0);
  return [...rows, `  ${"total".padEnd(width)}  ${formatDuration(total).padStart(7)}`].join("\n");
}

/**
 * A step that runs independent lanes of steps side by side (each lane in order), recording every
 * inner step's timing. It fails with the first lane's error once all lanes have settled, so nothing
 * is still running when the caller cleans up.
 */
export function concurrently<C>(name: string, phase: Phase, lanes: ReadonlyArray<ReadonlyArray<Step<C>>>): Step<C> {
  return {
    name,
    phase,
    async run(ctx, exec) {
      const settled = await Promise.allSettled(lanes.map((lane) => runSteps(lane, ctx, exec.log, exec.timings, exec.depth + 1)));
      const failure = settled.find((s) => s.status === "rejected");
      if (failure) throw (failure as PromiseRejectedResult).reason;
    },
  };
}

/** Inner steps are recorded before the group that holds them; show each group first. */
function orderForDisplay(timings: StepTiming[]): StepTiming[] {
  const out: StepTiming[] = [];
  let pending: StepTiming[] = [];
  for (const t of timings) {
    if (t.depth > 0) pending.push(t);
    else {
      out.push(t, ...pending);
      pending = [];
    }
  }
  return [...out, ...pending];
}
