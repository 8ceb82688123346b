import { formatDuration, type Logger } from "../log.ts";

/** The lifecycle's phases; every step belongs to one, so timings can be summed per phase. */
export type Phase = "build" | "boot" | "provision" | "deploy" | "verify" | "teardown";

export interface Step<C> {
  name: string;
  phase: Phase;
  run(ctx: C): Promise<void>;
}

export interface StepTiming {
  name: string;
  phase: Phase;
  ms: number;
  ok: boolean;
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
export async function runSteps<C>(steps: ReadonlyArray<Step<C>>, ctx: C, log: Logger, timings: StepTiming[] = []): Promise<StepTiming[]> {
  for (const step of steps) {
    const started = Date.now();
    log.info(`▶ ${step.name}`);
    try {
      await step.run(ctx);
    } catch (err) {
      const ms = Date.now() - started;
      timings.push({ name: step.name, phase: step.phase, ms, ok: false });
      log.info(`✗ ${step.name} failed after ${formatDuration(ms)}`);
      throw err instanceof StepError ? err : new StepError(step.name, step.phase, ms, err);
    }
    const ms = Date.now() - started;
    timings.push({ name: step.name, phase: step.phase, ms, ok: true });
    log.info(`✓ ${step.name} (${formatDuration(ms)})`);
  }
  return timings;
}

export function timingSummary(timings: StepTiming[]): string {
  const width = Math.max(...timings.map((t) => t.name.length), 4);
  const rows = timings.map((t) => `  ${t.name.padEnd(width)}  ${formatDuration(t.ms).padStart(7)}${t.ok ? "" : "  FAILED"}`);
  const total = timings.reduce((s, t) => s + t.ms, 0);
  return [...rows, `  ${"total".padEnd(width)}  ${formatDuration(total).padStart(7)}`].join("\n");
}
