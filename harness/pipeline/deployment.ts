import type { EnvName, Environment } from "../domain/envs.ts";
import type { Logger } from "../plumbing/log.ts";
import { loadProject, type DjangoProject } from "../project/detect.ts";
import type { StepTiming } from "../lifecycle/steps.ts";
import { STEADY_TRAFFIC, underTraffic, type TrafficOptions, type TrafficReport } from "../probes/traffic.ts";
import { APP_WHEELHOUSE } from "../recipe/context.ts";
import { provision } from "../recipe/recipe.ts";
import { adoptServerSecrets, knowsSecrets } from "../recipe/secrets.ts";
import { readKey, type KeyPair } from "../testbed/keys.ts";
import type { AuthorizedKeys } from "../recipe/ssh-keys.ts";
import { SERVER_ALIASES } from "../testbed/server.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";
import { runPipeline, type PipelineResult, type VariableValue } from "./executor.ts";
import { generatePipeline, rollbackJob, type PipelineOptions } from "./generate.ts";
import { GitRepo } from "./repo.ts";

/** Traffic on the environment while something runs: STEADY_TRAFFIC with `true`, or these options. */
export type TrafficChoice = boolean | (TrafficOptions & { during?: string });

export interface DeployOptions {
  /** Run the traffic probe on the deployed environment meanwhile; its report comes back. */
  traffic?: TrafficChoice;
  /** Variables given when the pipeline is run (a wrong key, ROLLBACK_TO...): over the deployment's own, scoped ones included, as GitLab ranks them. */
  variables?: Record<string, VariableValue>;
  /** Generator options besides the testbed's config and hooks, which always come from the testbed. */
  pipeline?: Omit<PipelineOptions, "config" | "hooks">;
  /** Play these manual jobs only, as a person pressing "play" would. */
  jobs?: string[];
}

export interface DeployOutcome {
  env: EnvName;
  branch: string;
  result: PipelineResult;
  /** Present when traffic ran. */
  traffic?: TrafficReport;
}

/** What to deploy: an environment (its branch by the table's rule) or a branch (its environment by the same rule). */
export type DeployTarget = { env: EnvName } | { branch: string };

/**
 * A testbed deployed to through the generated pipeline, as a GitLab project would: the testbed,
 * its CI deploy key (authorized on the app server) and a git repository of the project. Every
 * pipeline it runs is generated from the testbed's own config and hooks, so a testbed with another
 * deploy user or project deploys as itself without any caller passing them again. Disposing it
 * removes the repository it made; the testbed belongs to whoever started it.
 */
/**
 * The deployment's keys: a CI deploy key per environment (per-environment isolation; one for all
 * when shared), each a GitLab variable scoped to its environment and, on the server, forced to the
 * release tool for that environment; and an operator's key with a shell, for a person (the sandbox
 * prints it).
 */
export interface DeploymentKeys {
  deploy: Record<EnvName, KeyPair>;
  operator: KeyPair;
}

/** Makes the keys in the testbed's key directory (kept there for a sandbox's other commands), or reads them back. */
export async function deploymentKeys(tb: StartedTestbed, make: boolean): Promise<DeploymentKeys> {
  const key = (name: string) => (make ? tb.newKey(name) : readKey(tb.keyDir, name));
  const shared = tb.config.isolation === "shared" ? await key("ci-deploy") : undefined;
  const deploy = Object.fromEntries(await Promise.all(tb.envs.map(async (e) => [e.name, shared ?? (await key(`ci-deploy-${e.name}`))] as const))) as Record<EnvName, KeyPair>;
  return { deploy, operator: await key("operator") };
}

/** The keys as authorized_keys lines take them: each deploy key for its environments, the operator's for a shell. */
export function authorizedFor(tb: StartedTestbed, keys: DeploymentKeys): AuthorizedKeys {
  const byKey = new Map<string, EnvName[]>();
  for (const e of tb.envs) byKey.set(keys.deploy[e.name].public, [...(byKey.get(keys.deploy[e.name].public) ?? []), e.name]);
  return { deploy: [...byKey].map(([key, envs]) => ({ key, envs })), operator: [keys.operator.public] };
}

export class PipelineDeployment implements AsyncDisposable {
  private constructor(
    readonly tb: StartedTestbed,
    readonly keys: DeploymentKeys,
    readonly repo: GitRepo,
    /** The project the servers are provisioned for (its app directory, health path...). */
    private current: DjangoProject,
    /** The provisioning's step timings (empty when attached). */
    readonly timings: StepTiming[],
    private readonly ownsRepo: boolean,
  ) {}

  /**
   * Provisions the testbed for pipeline deploys (the recipe's one-time setup, with a new CI deploy
   * key authorized) and makes a git repository of `projectDir`, in `repoRoot` when given (a
   * sandbox keeps it beside its keys, for its other commands).
   */
  static async provision(tb: StartedTestbed, opts: { projectDir: string; project?: DjangoProject; envs?: EnvName[]; repoRoot?: string }): Promise<PipelineDeployment> {
    // Read before anything is made: a project the harness cannot make sense of stops here.
    const project = opts.project ?? loadProject(opts.projectDir);
    const keys = await deploymentKeys(tb, true);
    // Side by side: the repository does not touch the servers.
    const [report, repo] = await Promise.all([
      provision(tb, { projectDir: opts.projectDir, project, envs: opts.envs, keys: authorizedFor(tb, keys) }),
      GitRepo.fromDirectory(opts.projectDir, tb.config.defaultBranch, opts.repoRoot),
    ]);
    return new PipelineDeployment(tb, keys, repo, project, report.timings, opts.repoRoot === undefined);
  }

  /** One already provisioned (a running sandbox, from another process): its keys, repository and project as they are. */
  static attach(tb: StartedTestbed, keys: DeploymentKeys, repo: GitRepo, project: DjangoProject): PipelineDeployment {
    return new PipelineDeployment(tb, keys, repo, project, [], false);
  }

  /** The CI deploy key of an environment (the private half is what its jobs get as SSH_PRIVATE_KEY). */
  keyFor(env: EnvName): KeyPair {
    return this.keys.deploy[env];
  }

  /** The project the servers are provisioned for. */
  get project(): DjangoProject {
    return this.current;
  }

  /**
   * Provisions the servers for the project a deploy is about to bring (its requirements in the
   * wheelhouse, its settings, WSGI application and variables in the environment files, its units
   * and tool config), keeping this deployment's CI key. The recipe is idempotent: for the same
   * project nothing changes. No running gunicorn is restarted: the live release keeps serving with
   * the settings it started with (another project's would break it) until the deploy's switch.
   */
  async provisionFor(projectDir: string, project: DjangoProject = loadProject(projectDir)): Promise<StepTiming[]> {
    // Attached from another process, this one does not know the secrets the servers hold.
    if (!knowsSecrets(this.tb)) await adoptServerSecrets(this.tb);
    const report = await provision(this.tb, { projectDir, project, keys: authorizedFor(this.tb, this.keys), envs: this.tb.envs.map((e) => e.name), restartChanged: false });
    this.current = project;
    return report.timings;
  }

  /** The CI/CD variables scoped to each environment (GitLab's environment scope): its own deploy key. */
  get environmentVariables(): Record<string, Record<string, VariableValue>> {
    return Object.fromEntries(this.tb.envs.map((e) => [e.name, { SSH_PRIVATE_KEY: { value: this.keyFor(e.name).private, file: true } }]));
  }

  /** The CI/CD variables a GitLab project would have set for this server, for every environment. */
  get variables(): Record<string, VariableValue> {
    return {
      SSH_KNOWN_HOSTS: knownHostsLine(this.tb),
      DEPLOY_IMAGE: this.tb.images.runner,
      // Servers cannot reach PyPI: pip installs from the wheelhouse the recipe uploaded.
      PIP_EXTRA_ARGS: `--no-index --find-links ${APP_WHEELHOUSE}`,
    };
  }

  /** The .gitlab-ci.yml for this testbed and project: its config and hooks, and any other generator options. */
  pipeline(opts: DeployOptions["pipeline"] = {}): string {
    // Without the verify jobs unless asked: every spec asserts the environment with the same checklist
    // after its deploys (specs/e2e/checks.ts), and one spec runs the jobs themselves; each job is a
    // container more per deploy.
    return generatePipeline({ appDir: this.project.appDir, verify: false, ...opts, config: this.tb.config, hooks: this.tb.hooks });
  }

  /** A branch that GitLab would deploy to `env`, by the table's branch rule. */
  branchFor(env: EnvName): string {
    return branchFor(this.tb.env(env), this.tb.config.defaultBranch);
  }

  /** The environment a push to `branch` deploys to, by the same rule. */
  envFor(branch: string): EnvName {
    const { defaultBranch } = this.tb.config;
    const named = (e: Environment) => e.branch.kind === "named" && e.branch.branch === branch;
    const env = this.tb.envs.find((e) => (e.branch.kind === "default" && branch === defaultBranch) || named(e)) ?? this.tb.envs.find((e) => e.branch.kind === "other");
    if (!env) throw new Error(`branch ${branch}: no environment of this testbed deploys it`);
    return env.name;
  }

  /** Runs the pipeline for an environment's branch, or for a branch, optionally under traffic. */
  async deploy(target: DeployTarget, opts: DeployOptions = {}): Promise<DeployOutcome> {
    const [env, branch] = "env" in target ? [target.env, this.branchFor(target.env)] : [this.envFor(target.branch), target.branch];
    const run = () =>
      runPipeline({
        pipeline: this.pipeline(opts.pipeline),
        repo: this.repo,
        branch,
        defaultBranch: this.tb.config.defaultBranch,
        variables: this.variables,
        environmentVariables: this.environmentVariables,
        pipelineVariables: opts.variables,
        jobs: opts.jobs,
        network: this.tb.network,
        testbedId: this.tb.id,
        log: this.tb.log,
        hooks: this.tb.hooks,
      });
    if (!opts.traffic) return { env, branch, result: await run() };
    const during = opts.jobs ? opts.jobs.join(", ") : "the deploy";
    const { value, traffic } = await this.withTraffic(env, run, { during, ...(opts.traffic === true ? {} : opts.traffic) });
    return { env, branch, result: value, traffic };
  }

  /** The environment's manual rollback job: to the previous release, or to `to` (a release or commit). */
  rollback(env: EnvName, opts: { to?: string; allowMigrations?: boolean; traffic?: TrafficChoice; variables?: Record<string, VariableValue> } = {}): Promise<DeployOutcome> {
    const variables = { ...(opts.to ? { ROLLBACK_TO: opts.to } : {}), ...(opts.allowMigrations ? { ROLLBACK_ALLOW_MIGRATIONS: "1" } : {}), ...opts.variables };
    const traffic = opts.traffic === true ? { during: "the rollback" } : opts.traffic;
    return this.deploy({ env }, { jobs: [rollbackJob(this.tb.env(env))], variables, traffic });
  }

  /**
   * Runs `fn` (several deploys, a commit and a deploy...) while the traffic probe runs on `env`
   * (STEADY_TRAFFIC unless told otherwise); logs the probe's line.
   */
  withTraffic<T>(env: EnvName, fn: () => Promise<T>, opts: TrafficOptions & { during?: string } = {}, log: Logger = this.tb.log): Promise<{ value: T; traffic: TrafficReport }> {
    return underTraffic(this.tb.url(env, this.project.health), env, log, fn, { ...STEADY_TRAFFIC, ...opts });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.ownsRepo) await this.repo[Symbol.asyncDispose]();
  }
}

/** The server's host key line for SSH_KNOWN_HOSTS, read from the server itself. */
export function knownHostsLine(tb: StartedTestbed): string {
  const [type, key] = tb.app.hostKey.split(/\s+/);
  return `${SERVER_ALIASES.app} ${type} ${key}`;
}

/** A branch that GitLab would deploy to `env`, by the table's branch rule. */
function branchFor(env: Environment, defaultBranch: string): string {
  if (env.branch.kind === "default") return defaultBranch;
  if (env.branch.kind === "named") return env.branch.branch;
  return `feature/${env.name}`;
}
