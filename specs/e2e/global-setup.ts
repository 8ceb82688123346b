import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isAbandoned, isKept, isOwnedBy } from "../../harness/docker/labels.ts";
import { removeOrphanKeyDirs, removeTestbeds } from "../../harness/testbed/cleanup.ts";
import type { TestProject } from "vitest/node";
import { ensureSnapshots, type Snapshots } from "../../harness/snapshots/snapshots.ts";
import { streamLogger } from "../../harness/plumbing/log.ts";
import { faultHooksNamed } from "../../harness/faults/inject.ts";
import { StepError } from "../../harness/lifecycle/steps.ts";
import { hostFlags } from "../../harness/docker/container-flags.ts";
import { readSettings, settings, useSettings } from "../../harness/plumbing/settings.ts";

const log = streamLogger(process.stderr, { progress: !settings().quiet });

/** Builds images once for all spec files and sweeps testbeds whose run was killed. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The workers inherit it: what they create is owned by this run's main process.
  process.env.TESTBED_OWNER_PID = String(process.pid);
  useSettings(readSettings(process.env));
  // Once per run: the kind of host, and the flags the servers get on it (harness/docker/container-flags.ts).
  log.info(`engine: ${(await hostFlags()).line}`);
  const swept = await removeTestbeds({ kinds: ["test", "job", "sandbox", "preflight", "gate"], where: (l) => isAbandoned(l) });
  if (swept.containers.length + swept.networks.length + swept.volumes.length > 0) {
    log.info(`swept a killed run's leftovers: ${[...swept.containers, ...swept.networks, ...swept.volumes].join(", ")}`);
  }
  await removeOrphanKeyDirs();
  // Detached, so Ctrl-C on the terminal does not reach it: it outlives vitest and cleans up after it.
  spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../../scripts/reaper.ts", import.meta.url)), String(process.pid)], {
    detached: true,
    stdio: ["ignore", "ignore", "inherit"],
  }).unref();
  // Made once per change of images, recipe or sample project; spec files start from them. A failure
  // here is not thrown: vitest would then run nothing and report no failed test. It becomes the
  // failed test of setup.test.ts, named after the step, and every other e2e test is skipped.
  try {
    project.provide("snapshots", await ensureSnapshots({ base: settings().base, log, hooks: faultHooksNamed() }));
  } catch (err) {
    const failure = setupFailure(err);
    log.info(`global setup failed at ${failure.step}; the e2e specs are skipped`);
    project.provide("setupFailure", failure);
  }
  return async () => {
    // Whatever this run created and did not keep on purpose goes, even if a spec forgot it.
    await removeTestbeds({ kinds: ["test", "job", "sandbox", "preflight", "gate"], where: (l) => isOwnedBy(l) && !isKept(l) });
  };
}

/** What failed in the global setup: the step (as the step runner names it) and the whole message. */
export interface SetupFailure {
  step: string;
  message: string;
}

export function setupFailure(err: unknown): SetupFailure {
  const e = err instanceof Error ? err : new Error(String(err));
  const step = e instanceof StepError ? `step "${e.step}" (${e.phase})` : "images and snapshots";
  return { step, message: e.message };
}

declare module "vitest" {
  export interface ProvidedContext {
    snapshots: Snapshots;
    setupFailure?: SetupFailure;
  }
}
