import { basename } from "node:path";
import { GenericContainer } from "testcontainers";
import { parse } from "yaml";
import { docker } from "../docker/client.ts";
import { DockerExecRunner } from "../shell/exec-runner.ts";
import { labelsFor } from "../docker/labels.ts";
import { imageExists } from "../images/build.ts";
import { NO_HOOKS, type Hooks } from "../domain/hooks.ts";
import { formatDuration, silentLogger, type Logger } from "../plumbing/log.ts";
import { StartedWhenRunning } from "../testbed/systemd-container.ts";
import { jobScript } from "./job-script.ts";
import { goDuration, parseJobTimeout } from "./timeout.ts";
import { jobWhen, type JobSelection, type Variables } from "./rules.ts";
import type { GitRepo } from "./repo.ts";

export type VariableValue = string | { value: string; file: true };

export interface PipelineRun {
  /** The .gitlab-ci.yml text. */
  pipeline: string;
  repo: GitRepo;
  /** The branch (or tag, for a tag pipeline; the source branch, for a merge request's). */
  branch: string;
  /** What started it: a push to a branch (the default), a tag, a merge request, a schedule. */
  source?: PipelineSource;
  /** The project's default branch ($CI_DEFAULT_BRANCH). */
  defaultBranch: string;
  /** Project CI/CD variables: they override the file's, as in GitLab. */
  variables?: Record<string, VariableValue>;
  /** Project variables scoped to one environment (by its name): over the project-wide ones in that environment's jobs. */
  environmentVariables?: Record<string, Record<string, VariableValue>>;
  /** Variables given when the pipeline is run (the "Run pipeline" form, a trigger): over every other. */
  pipelineVariables?: Record<string, VariableValue>;
  /** The docker network the jobs join (the testbed's). */
  network: string;
  /** Labels the job containers as the testbed's, so its cleanup removes them. */
  testbedId: string;
  /** Run only these jobs, manual ones included, as a person pressing "play" on each would. */
  jobs?: string[];
  log?: Logger;
  /** Changes the run makes to the pipeline it receives (harness/domain/hooks.ts); none by default. */
  hooks?: Hooks;
}

export interface JobResult {
  name: string;
  stage: string;
  status: "success" | "failed" | "skipped";
  exitCode: number | null;
  durationMs: number;
  /** Of durationMs, the time to check out the branch and start the job's container. */
  startMs: number;
  /** When it ran (epoch ms), after any wait for its resource_group. */
  startedAt: number;
  finishedAt: number;
  /** The raw log (with section markers); `plainLog(log)` reads as a person would. */
  log: string;
}

export interface PipelineResult {
  status: "success" | "failed";
  jobs: JobResult[];
}

type JobDef = JobSelection & {
  stage?: string;
  image?: string | { name: string };
  variables?: Record<string, string | { value: string }>;
  before_script?: string[];
  script?: string[];
  after_script?: string[];
  resource_group?: string;
  environment?: string | { name: string };
  timeout?: string | number;
};

/** The environment a job deploys to (`environment:` or `environment: name:`), variables expanded. */
function jobEnvironment(job: JobDef, vars: Variables): string | undefined {
  const raw = typeof job.environment === "object" ? job.environment?.name : job.environment;
  return raw ? expand(raw, vars) : undefined;
}

/**
 * resource_group: one job of a group at a time, across every pipeline this process runs (GitLab
 * keys it per project; here, per testbed). A job waits for the one before it to finish, in order.
 */
const resourceGroups = new Map<string, Promise<unknown>>();
function inResourceGroup<T>(key: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!key) return fn();
  const mine = (resourceGroups.get(key) ?? Promise.resolve()).then(fn, fn);
  resourceGroups.set(key, mine.catch(() => undefined));
  return mine;
}

const RESERVED = new Set(["stages", "variables", "default", "include", "workflow", "image", "services", "before_script", "after_script", "cache", "spec"]);

function varValues(vars: Record<string, unknown> | undefined): Variables {
  return Object.fromEntries(Object.entries(vars ?? {}).map(([k, v]) => [k, typeof v === "object" && v !== null ? String((v as { value: unknown }).value ?? "") : String(v)]));
}

function expand(text: string, vars: Variables): string {
  return text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => vars[name] ?? "");
}

/** What started the pipeline, as $CI_PIPELINE_SOURCE says it. */
export type PipelineSource = "push" | "tag" | "merge_request_event" | "schedule";

/**
 * The variables GitLab sets for a pipeline of this kind: a branch pipeline (push, schedule) has
 * CI_COMMIT_BRANCH; a tag pipeline has CI_COMMIT_TAG and no branch; a merge request pipeline has
 * CI_MERGE_REQUEST_* and no branch either.
 */
export function predefinedVariables(p: { ref: string; source: PipelineSource; defaultBranch: string; sha: string; projectDir: string; projectName: string }): Variables {
  const kind: Variables =
    p.source === "tag"
      ? { CI_COMMIT_TAG: p.ref, CI_PIPELINE_SOURCE: "push" }
      : p.source === "merge_request_event"
        ? { CI_PIPELINE_SOURCE: p.source, CI_MERGE_REQUEST_IID: "1", CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: p.ref, CI_MERGE_REQUEST_TARGET_BRANCH_NAME: p.defaultBranch }
        : { CI_COMMIT_BRANCH: p.ref, CI_PIPELINE_SOURCE: p.source };
  return {
    CI: "true",
    GITLAB_CI: "true",
    ...kind,
    CI_COMMIT_REF_NAME: p.ref,
    CI_COMMIT_REF_SLUG: p.ref.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 63),
    CI_COMMIT_SHA: p.sha,
    CI_COMMIT_SHORT_SHA: p.sha.slice(0, 8),
    CI_DEFAULT_BRANCH: p.defaultBranch,
    CI_PROJECT_DIR: p.projectDir,
    CI_PROJECT_NAME: p.projectName,
  };
}

/**
 * The CI/CD variables a job gets, by GitLab's precedence: variables given to the pipeline run, then
 * project variables scoped to the job's environment, then project-wide ones.
 */
export function userVariables(run: Pick<PipelineRun, "variables" | "environmentVariables" | "pipelineVariables">, environment: string | undefined): Record<string, VariableValue> {
  return { ...run.variables, ...(environment ? run.environmentVariables?.[environment] : {}), ...run.pipelineVariables };
}

/** Runs a pipeline as GitLab Runner's docker executor would: selected jobs, stage by stage. */
export async function runPipeline(run: PipelineRun): Promise<PipelineResult> {
  const log = run.log ?? silentLogger;
  const doc = parse((run.hooks ?? NO_HOOKS).pipeline(run.pipeline)) as Record<string, unknown>;
  const stages = (doc.stages as string[] | undefined) ?? ["build", "test", "deploy"];
  const sha = await run.repo.sha(run.branch);
  // Where GitLab Runner checks out: /builds/<namespace>/<project>, the project named by its directory.
  const projectName = basename(run.repo.dir);
  const projectDir = `/builds/testbed/${projectName}`;
  const predefined = predefinedVariables({ ref: run.branch, source: run.source ?? "push", defaultBranch: run.defaultBranch, sha, projectDir, projectName });
  const userFor = (environment: string | undefined) => userVariables(run, environment);
  const plain = (user: Record<string, VariableValue>): Variables => Object.fromEntries(Object.entries(user).map(([k, v]) => [k, typeof v === "string" ? v : `${projectDir}.tmp/${k}`]));
  const globalVars = { ...predefined, ...varValues(doc.variables as Record<string, unknown>), ...plain(userFor(undefined)) };

  const jobs = Object.entries(doc).filter(([name, v]) => !RESERVED.has(name) && !name.startsWith(".") && typeof v === "object" && v !== null) as Array<[string, JobDef]>;
  const runs = (name: string, job: JobDef): boolean => {
    const when = jobWhen(job, { ...globalVars, CI_JOB_NAME: name });
    return run.jobs ? run.jobs.includes(name) && (when === "on_success" || when === "manual") : when === "on_success";
  };
  const selected = stages.flatMap((stage) => jobs.filter(([name, job]) => (job.stage ?? "test") === stage && runs(name, job)).map(([name, job]) => ({ name, job, stage })));
  const unplayable = (run.jobs ?? []).filter((name) => !selected.some((j) => j.name === name));
  if (unplayable.length) {
    throw new Error(`pipeline on ${run.branch}: no job ${unplayable.join(", ")} to run (its rules do not select it for this branch, or it does not exist)`);
  }
  // Each job's timeout, read before any job runs, as GitLab refuses a pipeline it cannot read. Its own
  // default is the project's timeout (1 h unless set): a job that hangs ends there.
  const timeouts = new Map(
    selected.map(({ name, job }) => {
      try {
        return [name, parseJobTimeout(job.timeout ?? (doc.default as { timeout?: string | number } | undefined)?.timeout ?? "1h")];
      } catch (err) {
        throw new Error(`pipeline on ${run.branch}, job ${name}: ${(err as Error).message}`);
      }
    }),
  );
  log.info(`pipeline on ${run.branch} (${sha.slice(0, 8)}): ${selected.length ? selected.map((j) => j.name).join(", ") : "no jobs"}`);

  const results: JobResult[] = [];
  // As GitLab: a failed job lets the rest of its stage run (one after the other here) and skips the later stages.
  let failedStage: string | undefined;
  for (const { name, job, stage } of selected) {
    if (failedStage !== undefined && failedStage !== stage) {
      results.push({ name, stage, status: "skipped", exitCode: null, durationMs: 0, startMs: 0, startedAt: 0, finishedAt: 0, log: "" });
      continue;
    }
    const environment = jobEnvironment(job, globalVars);
    const user = userFor(environment);
    const vars: Variables = { ...predefined, ...varValues(doc.variables as Record<string, unknown>), ...varValues(job.variables), ...plain(user), CI_JOB_NAME: name, CI_JOB_STAGE: stage, ...(environment ? { CI_ENVIRONMENT_NAME: environment } : {}) };
    const group = job.resource_group ? `${run.testbedId}/${expand(job.resource_group, vars)}` : undefined;
    const result = await inResourceGroup(group, () => runJob({ run, name, stage, job, vars, projectDir, sha, user, log, timeoutMs: timeouts.get(name)! }));
    results.push(result);
    if (result.status === "failed") failedStage ??= stage;
  }
  return { status: failedStage === undefined ? "success" : "failed", jobs: results };
}

async function runJob(a: {
  run: PipelineRun;
  name: string;
  stage: string;
  job: JobDef;
  vars: Variables;
  projectDir: string;
  sha: string;
  user: Record<string, VariableValue>;
  log: Logger;
  timeoutMs: number;
}): Promise<JobResult> {
  const started = Date.now();
  const rawImage = typeof a.job.image === "object" ? a.job.image.name : (a.job.image ?? "");
  const image = expand(rawImage, a.vars);
  const header = [`Running with django-deploy-testbed (docker executor)`, `Using docker image ${image} ...`];
  let startMs = 0;
  const finish = (status: JobResult["status"], exitCode: number | null, body: string, why = `exit code ${exitCode}`): JobResult => {
    const tail = status === "success" ? "Job succeeded" : `ERROR: Job failed: ${why}`;
    const finishedAt = Date.now();
    const result = { name: a.name, stage: a.stage, status, exitCode, durationMs: finishedAt - started, startMs, startedAt: started, finishedAt, log: `${header.join("\n")}\n${body}${tail}\n` };
    a.log.info(`job ${a.name}: ${status} in ${formatDuration(result.durationMs)}`);
    return result;
  };
  if (!image || !(await imageExists(image))) {
    return finish("failed", 1, `ERROR: image "${image || rawImage}" is not on this engine (no registry is used); set DEPLOY_IMAGE to a local image.\n`);
  }
  a.log.info(`job ${a.name}: starting in ${image}`);
  await using checkout = await a.run.repo.checkout(a.run.branch);
  const files = Object.entries(a.user).flatMap(([k, v]) => (typeof v === "string" ? [] : [{ content: v.value, target: `${a.projectDir}.tmp/${k}`, mode: 0o600 }]));
  const container = await new GenericContainer(image)
    .withName(`${a.run.testbedId}-job-${a.name}-${Date.now().toString(36)}`)
    .withLabels(labelsFor(a.run.testbedId, "job"))
    .withNetworkMode(a.run.network)
    .withCommand(["sleep", "infinity"])
    .withEnvironment(a.vars)
    .withWaitStrategy(new StartedWhenRunning())
    .withCopyDirectoriesToContainer([{ source: checkout.dir, target: a.projectDir }])
    .withCopyContentToContainer(files)
    .start();
  startMs = Date.now() - started;
  try {
    let body = `Getting source from Git repository\nChecking out ${a.sha.slice(0, 8)} as ${a.run.branch}...\n\nExecuting "step_script" stage of the job script\n`;
    // The job's own shell: its exit code is the job's status, so a failure is a result, not an error.
    const shell = new DockerExecRunner(container.getId(), `job ${a.name} (docker exec)`);
    // The job's timeout, counted from its script's start (GitLab's also counts the image pull, which
    // this engine never does): when it passes, the job's container is killed with everything in it
    // (a hung ssh, a sleep), and the job fails with GitLab Runner's words. after_script does not run.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void docker().getContainer(container.getId()).kill().catch(() => undefined);
    }, a.timeoutMs);
    const main = await shell.run(jobScript([...(a.job.before_script ?? []), ...(a.job.script ?? [])], a.projectDir), { allowFailure: true }).finally(() => clearTimeout(timer));
    body += main.output;
    if (timedOut) return finish("failed", null, `${body}\n`, `execution took longer than ${goDuration(a.timeoutMs)} seconds`);
    if (a.job.after_script?.length) {
      // after_script runs in its own shell, whatever happened, and cannot change the job's status.
      const after = await shell.run(jobScript(a.job.after_script, a.projectDir), { allowFailure: true });
      body += `\nRunning after_script\n${after.output}`;
    }
    body += "\n";
    return finish(main.exitCode === 0 ? "success" : "failed", main.exitCode, body);
  } finally {
    await docker().getContainer(container.getId()).remove({ force: true }).catch(() => undefined);
  }
}
