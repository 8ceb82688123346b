import { basename } from "node:path";
import { docker } from "../docker/client.ts";
import { formatDuration } from "../plumbing/log.ts";
import { LABEL } from "../docker/labels.ts";
import type { EnvName } from "../domain/envs.ts";
import type { Logger } from "../plumbing/log.ts";
import type { PipelineResult } from "../pipeline/executor.ts";
import { jobTail } from "../pipeline/job-script.ts";
import { GitRepo } from "../pipeline/repo.ts";
import { deploymentKeys, PipelineDeployment } from "../pipeline/deployment.ts";
import { loadProject, type DjangoProject } from "../project/detect.ts";
import type { TrafficReport } from "../probes/traffic.ts";
import { isSandbox, sandboxRepoRoot } from "./start.ts";
import { attachTestbed } from "../testbed/attach.ts";
import { sh } from "../shell/quote.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";

/** The ids of the sandboxes whose servers are running on this engine. */
export async function runningSandboxes(): Promise<string[]> {
  const list = await docker().listContainers({ filters: { label: [`${LABEL.project}=true`, `${LABEL.kind}=sandbox`] } });
  return [...new Set(list.map((c) => c.Labels[LABEL.testbed]!).filter((id) => isSandbox({ [LABEL.testbed]: id })))].sort();
}

/** Attaches to the one running sandbox, or to `id`; says what to do when there is none or several. */
export async function attachSandbox(id: string | undefined, log: Logger): Promise<PipelineDeployment> {
  const running = await runningSandboxes();
  if (!id) {
    if (!running.length) throw new Error("no sandbox is running: start one with `npm run sandbox` (in another terminal) or `npm run sandbox -- --keep`");
    if (running.length > 1) throw new Error(`${running.length} sandboxes are running (${running.join(", ")}): choose one with --id`);
    id = running[0]!;
  } else if (!running.includes(id)) {
    throw new Error(`sandbox ${id} is not running; running: ${running.join(", ") || "none"}`);
  }
  const tb = await attachTestbed(id, log);
  const keys = await deploymentKeys(tb, false);
  const repo = await GitRepo.open(sandboxRepoRoot(tb));
  // The repository holds the project the sandbox last deployed: the one its servers are set up for.
  return PipelineDeployment.attach(tb, keys, repo, loadProject(repo.dir));
}

/** The environments that have a live release on the sandbox (it may have been started with --env). */
export async function deployedEnvs(tb: StartedTestbed): Promise<EnvName[]> {
  const live = await Promise.all(tb.envs.map(async (e) => (await tb.app.exec.run(sh`test -L ${e.dir}`, { allowFailure: true })).exitCode === 0));
  return tb.envs.filter((_, i) => live[i]).map((e) => e.name);
}

export interface EnvOutcome {
  env: EnvName;
  result: PipelineResult;
  traffic: TrafficReport;
}

function failure(what: string, outcomes: EnvOutcome[]): Error | undefined {
  const failed = outcomes.filter((o) => o.result.status !== "success");
  if (!failed.length) return undefined;
  return new Error(`${what} failed for ${failed.map((o) => o.env).join(", ")}:\n${failed.map((o) => `--- ${o.env}: ${jobTail(o.result.jobs.find((j) => j.status === "failed"))}`).join("\n")}`);
}

/**
 * Commits `projectDir` to the sandbox's repository and runs the pipeline of each environment's
 * branch, side by side, each under traffic; logs one traffic line per environment.
 */
export async function deployToSandbox(d: PipelineDeployment, opts: { envs: EnvName[]; projectDir: string; project?: DjangoProject; log: Logger }): Promise<EnvOutcome[]> {
  const main = d.tb.config.defaultBranch;
  // Read first: a project the harness cannot make sense of stops before anything changes.
  const project = opts.project ?? loadProject(opts.projectDir);
  // The servers follow the project: its requirements in the wheelhouse, its settings and variables
  // in the environment files. Nothing changes for the project they already have.
  const timings = await d.provisionFor(opts.projectDir, project);
  opts.log.info(`servers set up for ${project.name} in ${formatDuration(timings.filter((t) => t.depth === 0).reduce((s, t) => s + t.ms, 0))}`);
  const commit = await d.repo.commitTree(main, `Deploy ${basename(opts.projectDir)} (npm run sandbox -- deploy)`, opts.projectDir);
  opts.log.info(`committed ${opts.projectDir} as ${commit.slice(0, 8)} on ${main}`);
  // One at a time: git locks its refs.
  for (const env of opts.envs) await d.repo.branch(d.branchFor(env), main);
  const outcomes = await Promise.all(
    opts.envs.map(async (env) => {
      const { result, traffic } = await d.deploy({ env }, { traffic: true });
      return { env, result, traffic: traffic! };
    }),
  );
  const err = failure("the deploy", outcomes);
  if (err) throw Object.assign(err, { outcomes });
  return outcomes;
}

/** Runs an environment's manual rollback job, under traffic: to the previous release, or to `to`. */
export async function rollbackSandbox(d: PipelineDeployment, opts: { env: EnvName; to?: string; allowMigrations?: boolean; log: Logger }): Promise<EnvOutcome> {
  const { result, traffic } = await d.rollback(opts.env, { to: opts.to, allowMigrations: opts.allowMigrations, traffic: true });
  const outcome = { env: opts.env, result, traffic: traffic! };
  const err = failure("the rollback", [outcome]);
  if (err) throw Object.assign(err, { outcomes: [outcome] });
  return outcome;
}
