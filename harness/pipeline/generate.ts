import { stringify } from "yaml";
import { DEFAULT_CONFIG, SEED_SERVERS, environments, type DeploymentConfig, type EnvName, type Environment } from "../domain/envs.ts";
import { NO_HOOKS, type Hooks } from "../domain/hooks.ts";
import { raw } from "../shell/quote.ts";
import { releaseCommand, releaseCommandArgs, releaseCommandSteps, releaseSteps, releaseTool, uploadExcludes } from "../release/commands.ts";

export type RuleStyle = "rules" | "only-except";

export interface PipelineOptions {
  config?: Partial<DeploymentConfig>;
  /** The app server as the runner reaches it. */
  serverHost?: string;
  serverPort?: number;
  /** The default job image; pinned, and overridable by the DEPLOY_IMAGE variable. */
  image?: string;
  /** `rules:` (default) or the seed's `only`/`except`. */
  style?: RuleStyle;
  /** The branch production deploys from. Unset: `$CI_DEFAULT_BRANCH`, in both styles. */
  productionBranch?: string;
  /** Fail a deploy whose models changed without a migration (`makemigrations --check`). */
  checkMigrations?: boolean;
  envs?: EnvName[];
  /** Where people reach the app server, for each environment's link in GitLab (its port is added). */
  urlBase?: string;
  /** The resource groups' process mode the header tells how to set (GitLab sets it by API, not YAML). */
  processMode?: "unordered" | "oldest_first" | "newest_first";
  /** A run's changes to the release steps (harness/domain/hooks.ts); none by default. */
  hooks?: Hooks;
  /** Where manage.py is in the repository, when not at its root: its `media` link is never uploaded over. */
  appDir?: string;
  /** A verify job after each deploy (the checklist, as a JUnit test report); on unless false. */
  verify?: boolean;
  /** How long the verify job keeps evaluating a failing check (a unit still starting, say): 30 s by default. */
  verifyRetrySeconds?: number;
}

export const DEFAULT_JOB_IMAGE = "debian:12.8-slim";

/** A string in a GitLab CI expression (rules:if), not a shell word: double-quoted, JSON-escaped. */
const ciString = (s: string) => JSON.stringify(s);

/** The job's ssh setup: the deploy key, the server's host key and one connection for every step. */
export function setupScript(): string[] {
  return [
    // Install only what the image lacks, with whichever package manager it has.
    [
      "if ! command -v ssh >/dev/null || ! command -v rsync >/dev/null; then",
      "  if command -v apk >/dev/null; then apk add --no-cache openssh-client rsync;",
      "  else apt-get update -qq && apt-get install -y -qq --no-install-recommends openssh-client rsync; fi",
      "fi",
    ].join("\n"),
    "install -d -m 700 ~/.ssh",
    // A variable as people paste it: a File variable (a path) or a plain one, with CRLF line endings,
    // blank lines around it, or no final newline (which ssh rejects as "error in libcrypto"). Never
    // echoed; an empty one stops the job at once, saying where to set it. POSIX sh, for any image.
    [
      "write_secret() {",
      '  eval "value=\\${$1:-}"',
      '  if [ -z "$value" ]; then echo "ERROR: the CI/CD variable $1 is empty or not set; set it under Settings > CI/CD > Variables (a File or a plain variable)." >&2; exit 1; fi',
      '  if [ -f "$value" ]; then value=$(cat "$value"); fi',
      "  (umask 077 && printf '%s\\n' \"$value\" | tr -d '\\r' | sed '/^[[:space:]]*$/d' > \"$2\")",
      '  chmod "$3" "$2"',
      "}",
    ].join("\n"),
    "write_secret SSH_PRIVATE_KEY ~/.ssh/id_deploy 600",
    "write_secret SSH_KNOWN_HOSTS ~/.ssh/known_hosts 644",
    // The server's host key is checked against SSH_KNOWN_HOSTS: StrictHostKeyChecking yes, not the seed's no.
    // One connection carries every step (ControlMaster): a login per step cost 0.2 s each.
    `printf 'Host deploy-target\\n  HostName %s\\n  Port %s\\n  User %s\\n  IdentityFile ~/.ssh/id_deploy\\n  IdentitiesOnly yes\\n  StrictHostKeyChecking yes\\n  BatchMode yes\\n  ConnectTimeout 10\\n  ServerAliveInterval 15\\n  ServerAliveCountMax 4\\n  ControlMaster auto\\n  ControlPath ~/.ssh/cm-%%C\\n  ControlPersist 60\\n' "$DEPLOY_HOST" "$DEPLOY_PORT" "$DEPLOY_USER" > ~/.ssh/config`,
  ];
}

/**
 * The deploy, as the release tool's steps (harness/release/commands.ts: the recipe runs the same ones).
 * One ssh command per step (the Django steps in one, `prepare`), so the log names and times each;
 * only `switch` touches what is live.
 */
function deployScript(env: Environment, config: DeploymentConfig, checkMigrations: boolean, hooks: Hooks, appDir: string): string[] {
  const onServer = (step: string, release: string, extra: ReadonlyArray<string | ReturnType<typeof raw>> = []) =>
    `ssh deploy-target ${releaseCommand(config, env, step, raw(release), extra)}`;
  const excludes = uploadExcludes(appDir).map((e) => `--exclude=${e}`).join(" ");
  return [
    // A new, empty release directory; the code goes there, never into the live one.
    `RELEASE=$(${onServer("new", '"$CI_COMMIT_SHA"')})`,
    `rsync -rlc ${excludes} ./ "deploy-target:$RELEASE/"`,
    ...releaseCommandSteps(releaseSteps(hooks)).map((c) => onServer(c.step, '"$RELEASE"', releaseCommandArgs(c, { pip: [raw("$PIP_EXTRA_ARGS")], checkMigrations }))),
    `echo "Deployed $CI_COMMIT_SHORT_SHA to ${env.name}"`,
  ];
}

/** Back to the previous release, or to $ROLLBACK_TO (a release or commit); migrations are not reversed. */
function rollbackScript(env: Environment, config: DeploymentConfig): string[] {
  return [
    // ssh joins its arguments into one line that the server's shell parses again: a value with `;`
    // or `$(...)` would run there. Only a release's or a commit's characters get that far.
    [
      'case "${ROLLBACK_TO:-}" in',
      `  *[!A-Za-z0-9._-]*) echo "ERROR: ROLLBACK_TO must be a release or a commit (letters, digits, '.', '_' and '-'); see them with: ${releaseTool(config)} ${env.name} list" >&2; exit 1;;`,
      "esac",
    ].join("\n"),
    `ssh deploy-target ${releaseCommand(config, env, "rollback", undefined, [raw('${ROLLBACK_TO:+--to "$ROLLBACK_TO"}'), raw("${ROLLBACK_ALLOW_MIGRATIONS:+--allow-migrations}")])}`,
    `ssh deploy-target ${releaseCommand(config, env, "verify")}`,
  ];
}

/** The verify job's report file. */
export const verifyReport = (env: Environment) => `verify-${env.name}.xml`;

/**
 * The checklist against the environment just deployed, read-only, by the release tool on the server
 * (the job's key may run it): first as a JUnit report GitLab shows on the pipeline, retried while a
 * check still fails; then once more as a table for the log, whose exit code is the job's.
 */
function verifyScript(env: Environment, config: DeploymentConfig, retrySeconds: number): string[] {
  const checklist = (extra: string[]) => `ssh deploy-target ${releaseCommand(config, env, "checklist", undefined, extra)}`;
  return [`${checklist(["--junit", `--retry-timeout=${retrySeconds}`])} > ${verifyReport(env)} || true`, checklist([])];
}

/** The verify job of an environment's deploy job. */
export const verifyJob = (env: Environment) => `verify-${env.job}`;

/** The same branch selection, as a job a person starts by hand. */
function manual(selection: Record<string, unknown>): Record<string, unknown> {
  const rules = selection.rules as Array<{ if: string; when?: string }> | undefined;
  if (!rules) return { ...selection, when: "manual", allow_failure: true };
  return { rules: rules.map((r) => (r.when === "never" ? r : { ...r, when: "manual" })), allow_failure: true };
}

function branchSelection(env: Environment, all: Environment[], style: RuleStyle | undefined, production: string | undefined): Record<string, unknown> {
  const prod = production ? ciString(production) : "$CI_DEFAULT_BRANCH";
  const named = all.flatMap((e) => (e.branch.kind === "named" ? [e.branch.branch] : []));
  if (style === "only-except") {
    // Branch pipelines only (never tags or merge requests), chosen by `variables:` so that production
    // follows $CI_DEFAULT_BRANCH as with rules, not a branch name written into the file.
    const is = (branch: string) => `$CI_COMMIT_BRANCH == ${branch}`;
    if (env.branch.kind === "default") return { only: { refs: ["branches"], variables: [is(prod)] } };
    if (env.branch.kind === "named") return { only: { refs: ["branches"], variables: [is(ciString(env.branch.branch))] } };
    return { only: { refs: ["branches"] }, except: { variables: [[prod, ...named.map(ciString)].map(is).join(" || ")] } };
  }
  if (env.branch.kind === "default") return { rules: [{ if: `$CI_COMMIT_BRANCH == ${prod}` }] };
  if (env.branch.kind === "named") return { rules: [{ if: `$CI_COMMIT_BRANCH == ${ciString(env.branch.branch)}` }] };
  // Every other branch: the claimed ones are ruled out first, then any branch pipeline runs.
  return {
    rules: [
      { if: `$CI_COMMIT_BRANCH == ${prod}`, when: "never" },
      ...named.map((b) => ({ if: `$CI_COMMIT_BRANCH == ${ciString(b)}`, when: "never" })),
      { if: "$CI_COMMIT_BRANCH" },
    ],
  };
}

/** The manual job that rolls an environment back. */
export const rollbackJob = (env: Environment) => `rollback-${env.job}`;

/** The deploy pipeline as a plain object, from the environment table and the options. */
export function pipelineObject(opts: PipelineOptions = {}): Record<string, unknown> {
  const config = { ...DEFAULT_CONFIG, ...opts.config };
  const all = environments(config);
  const envs = all.filter((e) => !opts.envs || opts.envs.includes(e.name));
  const doc: Record<string, unknown> = {
    stages: opts.verify === false ? ["deploy"] : ["deploy", "verify"],
    variables: {
      DEPLOY_IMAGE: { value: opts.image ?? DEFAULT_JOB_IMAGE, description: "The deploy jobs' image (pinned)." },
      DEPLOY_HOST: { value: opts.serverHost ?? SEED_SERVERS.app, description: "The app server." },
      DEPLOY_PORT: { value: String(opts.serverPort ?? 22), description: "The app server's ssh port." },
      ...(config.isolation === "shared" ? { DEPLOY_USER: { value: config.deployUser, description: "The deploy user on the app server." } } : {}),
      PIP_EXTRA_ARGS: { value: "", description: "Extra pip install arguments, e.g. --no-index --find-links DIR." },
    },
  };
  for (const env of envs) {
    const common = {
      stage: "deploy",
      image: "$DEPLOY_IMAGE",
      // GitLab's Environments page links here, and knows which deployments are production's.
      environment: { name: env.name, url: `${opts.urlBase ?? "http://$DEPLOY_HOST"}:${env.port}`, deployment_tier: env.tier },
      // One deploy or rollback of an environment at a time.
      resource_group: `deploy-${env.name}`,
      timeout: "15 minutes",
    };
    const selection = branchSelection(env, all, opts.style, opts.productionBranch);
    // Per environment, each job logs in as its environment's user (with that environment's key).
    const user = config.isolation === "shared" ? {} : { variables: { DEPLOY_USER: env.user } };
    doc[env.job] = { ...common, ...user, ...selection, before_script: setupScript(), script: deployScript(env, config, opts.checkMigrations ?? false, opts.hooks ?? NO_HOOKS, opts.appDir ?? "") };
    doc[rollbackJob(env)] = { ...common, ...user, ...manual(selection), before_script: setupScript(), script: rollbackScript(env, config) };
    if (opts.verify !== false) {
      doc[verifyJob(env)] = {
        ...common,
        stage: "verify",
        // A verification of the environment, not a deployment of it (GitLab's environment action),
        // with the environment's scoped key.
        environment: { name: env.name, action: "verify" },
        ...user,
        ...selection,
        needs: [env.job],
        before_script: setupScript(),
        script: verifyScript(env, config, opts.verifyRetrySeconds ?? 30),
        artifacts: { when: "always", reports: { junit: verifyReport(env) } },
      };
    }
  }
  return doc;
}

export function generatePipeline(opts: PipelineOptions = {}): string {
  const config = { ...DEFAULT_CONFIG, ...opts.config };
  const envs = environments(config).filter((e) => !opts.envs || opts.envs.includes(e.name));
  const mode = opts.processMode ?? "oldest_first";
  const header = [
    "# Deploys each branch to its environment on the app server, over ssh.",
    "# Generated by django-deploy-testbed from its environment table; regenerate rather than edit.",
    ...(config.isolation === "shared"
      ? ["# Needs the CI/CD variables SSH_PRIVATE_KEY (the deploy key) and SSH_KNOWN_HOSTS (the server's host key line)."]
      : [
          "# Needs the CI/CD variables SSH_KNOWN_HOSTS (the server's host key line) and SSH_PRIVATE_KEY: one File",
          "# variable per environment, each scoped to its environment (Environment scope: dev, staging, prod), prod's",
          "# protected. Each key is forced on the server to deploy its own environment and nothing else.",
        ]),
    "# Each environment's jobs share a resource_group, so they never overlap. GitLab's default process mode",
    `# (unordered) may still run an older pipeline's deploy after a newer one's; set ${mode} once, by the API:`,
    ...envs.map((e) => `#   curl -X PUT -H "PRIVATE-TOKEN: $TOKEN" "$CI_API_V4_URL/projects/$CI_PROJECT_ID/resource_groups/deploy-${e.name}?process_mode=${mode}"`),
    '# and turn on Settings > CI/CD > General pipelines > "Prevent outdated deployment jobs".',
  ].join("\n");
  return `${header}\n${stringify(pipelineObject(opts), { lineWidth: 0 })}`;
}
