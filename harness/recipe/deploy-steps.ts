import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { EnvName } from "../domain/envs.ts";
import { listFiles } from "../plumbing/files.ts";
import type { Step } from "../lifecycle/steps.ts";
import { waitForEnvironment } from "../probes/ready.ts";
import { sh } from "../shell/quote.ts";
import { APP_SOURCE, APP_WHEELHOUSE, forEachEnv, type RecipeContext } from "./context.ts";
import type { Hooks } from "../domain/hooks.ts";
import { releaseCommand, releaseCommandArgs, releaseCommandSteps, releaseSteps, uploadExcludes, type ReleaseCommandStep } from "../release/commands.ts";

/** Local files that never go to the server: caches, collected static files, sockets, git. */
const NOT_UPLOADED = /^(static|\.git|\.release[^/]*|\.static)(\/|$)|(^|\/)(__pycache__|\.venv|node_modules|\.tox|\.mypy_cache|\.pytest_cache)(\/|$)|\.pyc$|\.sock$/;

/** The project's "commit" when it is a directory, not a repository: a hash of what is uploaded. */
export async function projectCommit(dir: string): Promise<string> {
  const h = createHash("sha256");
  for (const file of (await listFiles(dir, ["."])).filter((f) => !NOT_UPLOADED.test(f))) {
    h.update(`${file}\0`).update(await readFile(join(dir, file))).update("\0");
  }
  return h.digest("hex").slice(0, 40);
}

const sourceDir = (ctx: RecipeContext) => `${APP_SOURCE}/${ctx.tb.config.project}`;

/** Runs `fn` for the environments that are getting a new release in this run. */
const forEachRelease = (ctx: RecipeContext, fn: (name: EnvName, release: string) => Promise<void>) =>
  forEachEnv({ ...ctx, envs: ctx.envs.filter((e) => ctx.releases[e.name]) }, (env) => fn(env.name, ctx.releases[env.name]!));

/** One command of the release tool, for every environment getting a release: the pipeline runs the same. */
function releaseStep(command: ReleaseCommandStep): Step<RecipeContext> {
  return {
    name: `${command.phase}: ${command.title}`,
    phase: command.phase,
    async run(ctx) {
      await forEachRelease(ctx, async (name, release) => {
        const env = ctx.tb.env(name);
        // The servers cannot reach PyPI: pip installs from the wheelhouse the recipe uploaded.
        const extra = releaseCommandArgs(command, { pip: ["--no-index", "--find-links", APP_WHEELHOUSE], checkMigrations: false });
        const r = await ctx.app.run(releaseCommand(ctx.tb.config, env, command.step, release, extra), { as: env.user });
        // Django's own words for each migration it applied, whichever command ran migrate.
        const applied = [...r.stdout.matchAll(/Applying (\S+)\.\.\. OK/g)].map((m) => m[1]!);
        if (applied.length) ctx.applied[name] = applied;
        if (command.switches) ctx.restarted.add(name);
      });
    },
  };
}

/**
 * The seed's manual deployment, made safe: each environment gets a new release, prepared completely
 * (requirements, check, static files, migrations) before one atomic switch, by the same release
 * tool and steps as the pipeline. An environment whose live release is this commit is left alone.
 */
export const deploySteps = (hooks: Hooks): Step<RecipeContext>[] => [
  {
    name: "deploy: upload the project",
    phase: "deploy",
    async run(ctx) {
      const commit = (ctx.commit = await projectCommit(ctx.opts.projectDir));
      await forEachEnv(ctx, async (env) => {
        const live = await ctx.app.run(sh`cat ${`${env.dir}/.release.json`} 2>/dev/null || true`);
        const liveCommit = live.stdout.trim() ? (JSON.parse(live.stdout) as { commit: string }).commit : undefined;
        if (liveCommit !== commit) ctx.releases[env.name] = "pending";
      });
      ctx.applied = Object.fromEntries(ctx.envs.map((e) => [e.name, []]));
      if (!Object.keys(ctx.releases).length) return;
      await ctx.app.run(sh`rm -rf ${sourceDir(ctx)} && mkdir -p ${sourceDir(ctx)}`);
      await ctx.app.putDirectory(ctx.opts.projectDir, sourceDir(ctx), (path) => NOT_UPLOADED.test(relative(ctx.opts.projectDir, path)));
      await ctx.app.run(sh`chmod -R a+rX ${sourceDir(ctx)}`);
    },
  },
  {
    name: "deploy: new release",
    phase: "deploy",
    async run(ctx) {
      await forEachRelease(ctx, async (name) => {
        const env = ctx.tb.env(name);
        const user = env.user;
        const release = (await ctx.app.run(releaseCommand(ctx.tb.config, env, "new", ctx.commit!), { as: user })).stdout.trim().split("\n").at(-1)!;
        ctx.releases[name] = release;
        const excludes = uploadExcludes(ctx.project.appDir).map((e) => `--exclude=${e}`);
        await ctx.app.run(sh`rsync -rl --chmod=Du=rwx,Dgo=rx,Fu=rw,Fgo=r ${excludes} ${`${sourceDir(ctx)}/`} ${`${release}/`}`, { as: user });
      });
    },
  },
  ...releaseCommandSteps(releaseSteps(hooks)).map(releaseStep),
  {
    name: "verify: sockets and sites answer",
    phase: "verify",
    async run(ctx) {
      await forEachEnv(ctx, (env) => waitForEnvironment(ctx.tb, env, 30_000, ctx.project.health));
    },
  },
];
