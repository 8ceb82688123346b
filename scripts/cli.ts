import { streamLogger, type Logger } from "../harness/core/log.ts";

/** The CLI layer owns the console and the exit code; the harness below only gets a Logger. */
export const log: Logger = streamLogger(process.stderr, { progress: process.env.TESTBED_QUIET !== "1" });

export async function main(run: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await run()) ?? 0;
  } catch (err) {
    process.stderr.write(`\nerror: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
