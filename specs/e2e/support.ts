import { afterAll, beforeAll, inject, it } from "vitest";
import { sampleProjectDir } from "../../harness/domain/fixtures.ts";
import type { Hooks } from "../../harness/domain/hooks.ts";
import { faultHooksNamed } from "../../harness/faults/inject.ts";
import { parseKeepPolicy } from "../../harness/lifecycle/keep.ts";
import { streamLogger } from "../../harness/plumbing/log.ts";
import { withDiagnostics } from "../../harness/probes/diagnostics.ts";
import { reuseSnapshotSecrets, type SnapshotStage } from "../../harness/snapshots/snapshots.ts";
import { Testbed, type StartedTestbed } from "../../harness/testbed/testbed.ts";
import type { PipelineResult } from "../../harness/pipeline/executor.ts";
import { plainLog, tellingLines } from "../../harness/pipeline/job-script.ts";
import { PipelineDeployment, type DeployOptions } from "../../harness/pipeline/deployment.ts";
import type { FixtureChanges } from "../../harness/domain/fixtures.ts";
import type { EnvName } from "../../harness/domain/envs.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { expect } from "vitest";
import { STEADY_TRAFFIC, trafficLine, type TrafficReport } from "../../harness/probes/traffic.ts";
import { settings } from "../../harness/plumbing/settings.ts";

export const log = streamLogger(process.stderr, { progress: false });

/**
 * This run's hooks: a fault's, when `npm run faults` names one in TESTBED_FAULT, else none. The
 * specs are the top of the harness, so they read the variable; everything below is handed the value.
 */
let hooks: Hooks | undefined;
export const specHooks = (): Hooks => (hooks ??= faultHooksNamed());

/** The sample project as this run deploys it (a fault run's changed copy, or the repository's). */
export const sampleProject = (): string => specHooks().project(sampleProjectDir());

/** Whether the global setup failed: then nothing starts, and setup-guard.ts skips every test. */
export const setupFailed = () => inject("setupFailure") !== undefined;

/**
 * A Testbed configured from the environment (TESTBED_BASE, TESTBED_KEEP): fresh servers, or servers
 * from a snapshot the recipe already provisioned (or deployed), made once by the global setup.
 */
export function testbed(from: "fresh" | SnapshotStage = "fresh"): Testbed {
  const { keep, base } = settings();
  const tb = new Testbed().withLogger(log).withKeep(parseKeepPolicy(keep)).withHooks(specHooks());
  if (base) tb.withBase(base);
  if (from !== "fresh") tb.withImages(inject("snapshots")[from]);
  return tb;
}

export interface Shared<T = unknown> {
  tb: StartedTestbed;
  /** What the file's preparation returned (a recipe report, a pipeline target...). */
  data: T;
}

/**
 * One testbed shared by the tests of a file: started (and prepared) before them, disposed after
 * them by the keep policy, and marked failed when any test fails.
 */
export function sharedTestbed<T>(prepare: (tb: StartedTestbed) => Promise<T>, from: "fresh" | SnapshotStage = "fresh"): () => Shared<T> {
  let shared: Shared<T> | undefined;
  let started: StartedTestbed | undefined;
  beforeAll(async () => {
    if (setupFailed()) return;
    started = await testbed(from).start();
    try {
      shared = { tb: started, data: await prepare(started) };
    } catch (err) {
      started.markFailed();
      throw await withDiagnostics(started, err);
    }
  });
  afterAll(async () => {
    await started?.[Symbol.asyncDispose]();
  });
  return () => {
    if (!shared) throw new Error("the shared testbed did not start; see the beforeAll error above");
    return shared;
  };
}

/** Appends the servers' journals, nginx errors and failed units to an error's message. */
export { withDiagnostics };

/** A test on a shared testbed: on failure it carries diagnostics and marks the testbed failed. */
export function onTestbed<T>(get: () => Shared<T>, name: string, fn: (s: Shared<T>) => Promise<void>, timeout?: number): void {
  it(name, async () => {
    const s = get();
    try {
      await fn(s);
    } catch (err) {
      s.tb.markFailed();
      throw await withDiagnostics(s.tb, err);
    }
  }, timeout);
}

/**
 * A testbed provisioned for pipeline deploys, with a git repository of the sample project. It starts
 * from the deployed snapshot: a deploy onto a running site is the common case (and it reuses a venv).
 */
export function pipelineTestbed(from: SnapshotStage = "deployed"): () => Shared<PipelineDeployment> {
  let deployment: PipelineDeployment | undefined;
  afterAll(async () => {
    await deployment?.[Symbol.asyncDispose]();
  });
  return sharedTestbed(async (tb) => {
    // These specs test deploys, not secrets: the servers keep the snapshot's (recipe-environments
    // renews its own, with special characters in every one).
    await reuseSnapshotSecrets(tb, inject("snapshots")[from]);
    return (deployment = await PipelineDeployment.provision(tb, { projectDir: sampleProject() }));
  }, from);
}

/** The job logs of a pipeline, as a person reads them, for assertion messages; telling lines first. */
export function jobLogs(result: PipelineResult): string {
  return result.jobs.map((j) => `--- job ${j.name}: ${j.status}\n${tellingLines(j.log)}${plainLog(j.log)}`).join("\n");
}

/** Traffic in specs: steady, so that deploys under it keep the cores they need. */
export const SPEC_TRAFFIC = STEADY_TRAFFIC;

/**
 * Commits `changes` to `branch` of the deployment's repository, runs `fn`, and reverts that commit
 * whatever `fn` finds, so the next test deploys from a good commit.
 */
export async function withCommit<R>(s: Shared<PipelineDeployment>, branch: string, message: string, changes: FixtureChanges, fn: () => Promise<R>): Promise<R> {
  await s.data.repo.commit(branch, message, changes);
  try {
    return await fn();
  } finally {
    await s.data.repo.git("revert", "--no-edit", "HEAD");
  }
}

/** Deploys `branch` through the pipeline while the traffic probe runs on its environment; logs the probe's line. */
export async function deployUnderTraffic(s: Shared<PipelineDeployment>, branch: string, opts: Omit<DeployOptions, "traffic"> = {}) {
  const { result, traffic } = await s.data.deploy({ branch }, { ...opts, traffic: SPEC_TRAFFIC });
  return { result, traffic: traffic! };
}

/** The commit that answers an environment's health path now (the X-Commit header the release tool's WSGI wrapper adds). */
export async function servedCommit(tb: StartedTestbed, env: EnvName, health = "/"): Promise<string> {
  const r = await httpGet(tb.url(env, health));
  if (r.status >= 500 || !r.headers["x-commit"]) throw new Error(`${env}: GET ${health} answered ${r.status}${r.headers["x-commit"] ? "" : " with no X-Commit header"}, so no release serves it`);
  return String(r.headers["x-commit"]);
}

/**
 * "0 failed requests", said with its evidence: no request failed, enough of them ran to have seen a
 * restart (about 40 a second), and the probe ran until the action ended instead of being cut short
 * by one of its own bounds, so the action was covered from start to end.
 */
export function expectNoFailedRequests(traffic: TrafficReport, env: string, during: string, minRequests = 10): void {
  expect(traffic.failed, `${trafficLine(env, traffic, during)}: requests failed`).toBe(0);
  expect(traffic.requests, `${trafficLine(env, traffic, during)}: too few requests to have seen a restart`).toBeGreaterThanOrEqual(minRequests);
  expect(traffic.stoppedBy, `${trafficLine(env, traffic, during)}: the probe hit its own bound before the action ended`).toBe("stop");
}
