import { formatDuration, type Logger } from "../plumbing/log.ts";
import { endOfLife, type KeepPolicy } from "./keep.ts";
import { runSteps, type Step, type StepExecution, type StepTiming } from "./steps.ts";

export class AbortedError extends Error {
  override name = "AbortedError";
}

/**
 * A run's life as data: named steps (build, boot, provision, deploy, verify) run by one runner,
 * then a teardown step, or not, as the keep policy says (endOfLife decides).
 */
export class Lifecycle<C> {
  readonly timings: StepTiming[] = [];
  private tornDown = false;

  constructor(
    private readonly opts: {
      log: Logger;
      keep: KeepPolicy;
      teardown: (ctx: C) => Promise<void>;
      /** How to get in and how to remove it, when it is kept. */
      describeKept: (ctx: C) => string;
      signal?: AbortSignal;
    },
  ) {}

  /** Runs the steps; on failure (or abort) tears down unless kept, then rethrows. */
  async run(steps: ReadonlyArray<Step<C>>, ctx: C): Promise<void> {
    const guarded = steps.map((s) => ({
      ...s,
      run: async (c: C, exec: StepExecution) => {
        if (this.opts.signal?.aborted) throw new AbortedError(`interrupted before "${s.name}"`);
        await s.run(c, exec);
      },
    }));
    try {
      await runSteps(guarded, ctx, this.opts.log, this.timings);
    } catch (err) {
      await this.end(ctx, !(err instanceof AbortedError) && !this.opts.signal?.aborted);
      throw err;
    }
  }

  /** Ends the run: teardown (a logged step) unless the policy keeps it. */
  async end(ctx: C, failed: boolean): Promise<"removed" | "kept"> {
    if (this.tornDown) return "removed";
    return endOfLife(this.opts.keep, failed, {
      kept: () => this.opts.log.info(this.opts.describeKept(ctx)),
      remove: async () => {
        this.tornDown = true;
        const started = Date.now();
        this.opts.log.info("▶ teardown");
        await this.opts.teardown(ctx);
        const ms = Date.now() - started;
        this.timings.push({ name: "teardown", phase: "teardown", ms, ok: true, depth: 0 });
        this.opts.log.info(`✓ teardown (${formatDuration(ms)})`);
      },
    });
  }
}
