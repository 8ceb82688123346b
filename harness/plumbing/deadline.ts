import { setTimeout as delay } from "node:timers/promises";

export class TimeoutError extends Error {
  constructor(message: string, readonly waitedMs: number, readonly lastError?: unknown) {
    super(message);
    this.name = "TimeoutError";
  }
}

/**
 * Polls `probe` until it returns a value other than undefined, or the deadline passes.
 * The poll interval grows from 50 ms to 250 ms, so fast conditions cost little and slow ones don't spin.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; describe?: (lastError: unknown) => string },
): Promise<T> {
  const start = Date.now();
  let interval = 50;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    const waited = Date.now() - start;
    if (waited >= opts.timeoutMs) {
      const detail = opts.describe ? opts.describe(lastError) : lastError ? String((lastError as Error).message ?? lastError) : "";
      throw new TimeoutError(`${what} after ${Math.round(waited / 1000)} s${detail ? `; ${detail}` : ""}`, waited, lastError);
    }
    await delay(Math.min(interval, opts.timeoutMs - waited));
    // Capped low: conditions here (boot, a socket, an answer) come within seconds, and late
    // polling would only add to every wait.
    interval = Math.min(interval * 2, 250);
  }
}
