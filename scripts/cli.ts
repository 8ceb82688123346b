import { ensureEngine } from "../harness/docker/engine-install.ts";
import { selectedPlatform } from "../harness/images/base-platform.ts";
import { streamLogger, type Logger } from "../harness/plumbing/log.ts";
import { readSettings, settings, useSettings, type Settings } from "../harness/plumbing/settings.ts";

/** The CLI layer owns the console and the exit code; the harness below only gets a Logger. */
export const log: Logger = streamLogger(process.stderr, { progress: !settings().quiet });

/**
 * The run's settings: the environment, read once here, with the command's own flags laid over
 * (`--base` and TESTBED_BASE then reach everything below the same way). Call it right after parsing.
 */
export function useFlags(flags: Partial<Omit<Settings, "env">>): Settings {
  return useSettings(readSettings(process.env, flags));
}

/** A Docker engine for this run, with debootstrap when the servers' platform is built here. */
export function ensureEngineForRun(): Promise<void> {
  return ensureEngine(log, { debootstrap: selectedPlatform().suite !== undefined });
}

export async function main(run: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await run()) ?? 0;
  } catch (err) {
    process.stderr.write(`\nerror: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
