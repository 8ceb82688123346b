import { shellQuote } from "../docker/exec.ts";
import type { Environment } from "../envs.ts";
import type { Step } from "../lifecycle/runner.ts";
import { waitForEnvironment } from "../probes/ready.ts";
import { APP_SOURCE, APP_WHEELHOUSE, forEachEnv, type RecipeContext } from "./context.ts";
import { syncExcludes } from "./deliver.ts";

/** A command run as the deploy user inside the environment's project, with its settings loaded. */
export function inProject(env: Environment, command: string): string {
  return `set -a && . ${env.envFile} && set +a && cd ${env.dir} && ${command}`;
}

/** The seed's manual deployment, corrected: no makemigrations on the server, no `yes yes |`. */
export const deploySteps: Step<RecipeContext>[] = [
  {
    name: "deploy: upload the project",
    phase: "deploy",
    async run({ app, opts, tb }) {
      const src = `${APP_SOURCE}/${tb.config.project}`;
      await app.run(`rm -rf ${src} && mkdir -p ${src}`);
      await app.putDirectory(opts.projectDir, src, /(__pycache__|\.pyc$|\/static$|\.sock$|\/\.git$)/);
    },
  },
  {
    name: "deploy: sync code",
    phase: "deploy",
    async run(ctx) {
      const { config } = ctx.tb;
      const excludes = syncExcludes(config).map((e) => `--exclude=${shellQuote(e)}`).join(" ");
      await forEachEnv(ctx, async (env) => {
        // Checksums, not times: an unchanged file is left alone, so a re-run changes nothing.
        const r = await ctx.app.run(
          `rsync -rlc --delete --itemize-changes --chown=${config.deployUser}:${config.deployUser} --chmod=Du=rwx,Dgo=rx,Fu=rw,Fgo=r ${excludes} ` +
            `${APP_SOURCE}/${config.project}/ ${env.dir}/ && chmod 755 ${env.dir}/manage.py`,
        );
        if (r.stdout.trim()) ctx.changed.add(env.name);
      });
    },
  },
  {
    name: "deploy: pip install -r requirements.txt",
    phase: "deploy",
    async run(ctx) {
      await forEachEnv(ctx, async (env) => {
        const r = await ctx.app.run(
          inProject(env, `${env.venv}/bin/pip install --disable-pip-version-check --no-index --find-links ${ctx.remoteWheelhouse ?? APP_WHEELHOUSE} -r requirements.txt`),
          { as: ctx.tb.config.deployUser },
        );
        if (/Successfully installed/.test(r.stdout)) ctx.changed.add(env.name);
      });
    },
  },
  {
    name: "deploy: manage.py migrate",
    phase: "deploy",
    async run(ctx) {
      await forEachEnv(ctx, async (env) => {
        const r = await ctx.app.run(inProject(env, `${env.venv}/bin/python manage.py migrate --noinput`), { as: ctx.tb.config.deployUser });
        const applied = [...r.stdout.matchAll(/Applying (\S+)\.\.\. OK/g)].map((m) => m[1]!);
        ctx.applied[env.name] = applied;
        if (applied.length) ctx.changed.add(env.name);
      });
    },
  },
  {
    name: "deploy: manage.py collectstatic",
    phase: "deploy",
    async run(ctx) {
      await forEachEnv(ctx, async (env) => {
        await ctx.app.run(inProject(env, `${env.venv}/bin/python manage.py collectstatic --noinput`), { as: ctx.tb.config.deployUser });
      });
    },
  },
  {
    name: "deploy: restart gunicorn",
    phase: "deploy",
    async run(ctx) {
      await forEachEnv(ctx, async (env) => {
        // Restart only what changed: a re-run of an unchanged recipe keeps every process as it was.
        const verb = ctx.changed.has(env.name) ? "restart" : "start";
        await ctx.app.run(`systemctl ${verb} ${env.unit}`);
      });
      await ctx.app.run("systemctl start gunicorn.target");
    },
  },
  {
    name: "verify: sockets and sites answer",
    phase: "verify",
    async run(ctx) {
      await forEachEnv(ctx, (env) => waitForEnvironment(ctx.tb, env, 30_000));
    },
  },
];
