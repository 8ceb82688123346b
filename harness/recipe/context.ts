import type { AuthorizedKeys } from "./ssh-keys.ts";
import type { EnvName, Environment } from "../domain/envs.ts";
import type { Hooks } from "../domain/hooks.ts";
import { loadProject, type DjangoProject } from "../project/detect.ts";
import type { Logger } from "../plumbing/log.ts";
import { SshRunner } from "../shell/ssh.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";

export interface RecipeOptions {
  /** The Django project to deploy: its repository. */
  projectDir: string;
  /** The project as detected from projectDir (loadProject) unless given, e.g. with a CLI's flags applied. */
  project?: DjangoProject;
  /** Which environments to set up; all of them by default. */
  envs?: EnvName[];
  /** Who may log in as each environment's user: CI deploy keys (forced to the release tool) and people's keys. */
  keys?: AuthorizedKeys;
  log?: Logger;
  /** Changes to what the recipe writes and runs (harness/domain/hooks.ts); the testbed's by default. */
  hooks?: Hooks;
  /**
   * Restart a running gunicorn whose environment file changed (true by default, so new secrets take
   * effect). False when a deploy of the project follows at once and restarts it into its release:
   * the old release keeps serving with the settings it started with until that switch.
   */
  restartChanged?: boolean;
}

/** What the recipe's steps share: ssh sessions on both servers, the table, and what they learned. */
export interface RecipeContext {
  tb: StartedTestbed;
  app: SshRunner;
  db: SshRunner;
  envs: Environment[];
  opts: RecipeOptions;
  log: Logger;
  hooks: Hooks;
  /** The project being deployed: where manage.py is, its settings, WSGI application, requirements, variables. */
  project: DjangoProject;
  /** The project's commit (a content hash of its files), set by the upload. */
  commit?: string;
  /** The release each environment is preparing in this run; absent when its live release is current. */
  releases: Partial<Record<EnvName, string>>;
  /** Environments that got a new release or a restart in this run. */
  restarted: Set<EnvName>;
  /** Migrations applied per environment in this run ("notes.0002_note_pinned"). */
  applied: Partial<Record<EnvName, string[]>>;
}

export const APP_WHEELHOUSE = "/srv/wheelhouse";
export const APP_SOURCE = "/srv/src";

export async function openContext(tb: StartedTestbed, opts: RecipeOptions): Promise<RecipeContext> {
  const wanted = opts.envs ?? tb.envs.map((e) => e.name);
  const hooks = opts.hooks ?? tb.hooks;
  // Read before any server is touched: a project the harness cannot make sense of stops here.
  const project = opts.project ?? loadProject(opts.projectDir);
  // Every file the recipe writes goes through these sessions' writeFile, and so through the hooks.
  const [app, db] = await Promise.all([SshRunner.connect("app server", tb.app.sshConfig(), { hooks }), SshRunner.connect("database server", tb.db.sshConfig(), { hooks })]);
  return {
    tb,
    app,
    db,
    envs: tb.envs.filter((e) => wanted.includes(e.name)),
    opts,
    log: opts.log ?? tb.log,
    hooks,
    project,
    releases: {},
    restarted: new Set(),
    applied: {},
  };
}

export function closeContext(ctx: RecipeContext): void {
  ctx.app.dispose();
  ctx.db.dispose();
}

/** Runs `fn` for every environment at once; the error names the environment. */
export async function forEachEnv(ctx: RecipeContext, fn: (env: Environment) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(ctx.envs.map(fn));
  const failed = results.map((r, i) => [r, ctx.envs[i]!] as const).filter(([r]) => r.status === "rejected");
  if (failed.length) {
    const [r, env] = failed[0]!;
    const reason = (r as PromiseRejectedResult).reason as Error;
    throw Object.assign(new Error(`${env.name}: ${reason.message}`, { cause: reason }), { env: env.name });
  }
}
