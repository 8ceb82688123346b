import type { EnvName, Environment } from "../envs.ts";
import type { StepTiming } from "../lifecycle/runner.ts";
import { APP_WHEELHOUSE } from "../recipe/context.ts";
import { provision } from "../recipe/recipe.ts";
import { SERVER_ALIASES } from "../testbed/server.ts";
import type { KeyPair, StartedTestbed } from "../testbed/testbed.ts";
import { runPipeline, type PipelineResult, type VariableValue } from "./executor.ts";
import { generatePipeline, type PipelineOptions } from "./generate.ts";
import type { GitRepo } from "./repo.ts";

/** A testbed provisioned for pipeline deploys: the one-time setup, with a CI deploy key authorized. */
export interface PipelineTarget {
  tb: StartedTestbed;
  deployKey: KeyPair;
  /** The CI/CD variables a GitLab project would have set for this server. */
  variables: Record<string, VariableValue>;
  timings: StepTiming[];
}

/** The server's host key line for SSH_KNOWN_HOSTS, read from the server itself. */
export function knownHostsLine(tb: StartedTestbed): string {
  const [type, key] = tb.app.hostKey.split(/\s+/);
  return `${SERVER_ALIASES.app} ${type} ${key}`;
}

/** The CI/CD variables for a testbed and its deploy key. */
export function pipelineVariables(tb: StartedTestbed, deployKey: KeyPair): Record<string, VariableValue> {
  return {
    SSH_PRIVATE_KEY: { value: deployKey.private, file: true },
    SSH_KNOWN_HOSTS: knownHostsLine(tb),
    DEPLOY_IMAGE: tb.images.runner,
    // Servers cannot reach PyPI: pip installs from the wheelhouse the recipe uploaded.
    PIP_EXTRA_ARGS: `--no-index --find-links ${APP_WHEELHOUSE}`,
  };
}

export async function provisionForPipeline(tb: StartedTestbed, opts: { projectDir: string; envs?: EnvName[] }): Promise<PipelineTarget> {
  const deployKey = await tb.newKey("ci-deploy");
  const report = await provision(tb, { projectDir: opts.projectDir, envs: opts.envs, deployKeys: [deployKey.public] });
  return { tb, deployKey, timings: report.timings, variables: pipelineVariables(tb, deployKey) };
}

/** Runs the generated pipeline for `branch` against the testbed (`jobs`: play these manual jobs only). */
export function deployBranch(
  target: PipelineTarget,
  repo: GitRepo,
  branch: string,
  overrides: { variables?: Record<string, VariableValue>; pipeline?: PipelineOptions; jobs?: string[] } = {},
): Promise<PipelineResult> {
  return runPipeline({
    pipeline: generatePipeline(overrides.pipeline),
    repo,
    branch,
    defaultBranch: target.tb.config.defaultBranch,
    variables: { ...target.variables, ...overrides.variables },
    jobs: overrides.jobs,
    network: target.tb.network,
    testbedId: target.tb.id,
    log: target.tb.log,
  });
}

/** A branch that GitLab would deploy to `env`, by the table's branch rule. */
export function branchFor(env: Environment, defaultBranch: string): string {
  if (env.branch.kind === "default") return defaultBranch;
  if (env.branch.kind === "named") return env.branch.branch;
  return `feature/${env.name}`;
}
