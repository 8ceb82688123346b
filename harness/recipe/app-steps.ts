import { readdir } from "node:fs/promises";
import type { Step } from "../lifecycle/steps.ts";
import { raw, sh } from "../shell/quote.ts";
import { ensureWheelhouse, parsePythonTarget, PYTHON_TARGET_PROBE } from "../images/wheelhouse.ts";
import { APP_WHEELHOUSE, forEachEnv, type RecipeContext } from "./context.ts";
import { allowedHosts, DB_HOST } from "./hosts.ts";
import { envFile } from "./env-file.ts";
import { secretsOf } from "./secrets.ts";
import { nginxSite } from "./nginx.ts";
import { gunicornCommands, installReleaseTool } from "../release/tool.ts";
import { sudoersRule } from "./sudoers.ts";
import { authorizedKeys, NO_KEYS } from "./ssh-keys.ts";
import { gunicornSocket, gunicornTarget, gunicornTemplate } from "./units.ts";

/**
 * systemd's own verdict on the units before they are loaded: a bad setting is named here, with the
 * file and line ("WorkingDirectory= path is not absolute"), instead of a unit that later fails to
 * start with "bad unit file setting". The one complaint expected before the first deploy, a venv
 * that does not exist yet, is left out.
 */
async function verifyUnits(app: RecipeContext["app"], units: string[]): Promise<void> {
  const r = await app.run(sh`systemd-analyze verify gunicorn.target ${units} 2>&1`, { allowFailure: true });
  const problems = r.stdout.split("\n").filter((l) => l.trim() && !/: Command \S+\/bin\/gunicorn is not executable: No such file or directory$/.test(l));
  if (problems.length) {
    throw new Error(`systemd-analyze verify rejects the gunicorn units (harness/recipe/units.ts):\n  ${problems.join("\n  ")}\nNothing was reloaded or enabled; fix the template and run the recipe again.`);
  }
}

/** One-time setup of the app server: the deploy user, its directories, units, sites, sudo, release tool. */
export const appSteps: Step<RecipeContext>[] = [
  {
    name: "app: deploy users",
    phase: "provision",
    async run(ctx) {
      const { app, tb, opts } = ctx;
      const keys = opts.keys ?? NO_KEYS;
      const base = tb.envs[0]!.home;
      if (tb.config.isolation === "shared") {
        const user = tb.config.deployUser;
        await app.run(
          sh`id -u ${user} >/dev/null 2>&1 || adduser --disabled-password --gecos '' ${user} >/dev/null; ` +
            // nginx (www-data) must traverse the home to reach static files and sockets; it lists nothing.
            sh`chmod 711 ${base} && install -d -m 700 -o ${user} -g ${user} ${`${base}/.ssh`}`,
        );
        await app.writeFile(`${base}/.ssh/authorized_keys`, authorizedKeys(tb.config, tb.envs.map((e) => e.name), keys), "600", `${user}:${user}`);
        return;
      }
      // One user per environment, its home the environment's directory: 0710 with group www-data, so
      // nginx may pass through to the socket and the static files, and no other environment's user
      // may enter at all (nor list, read or write anything below).
      await app.run(sh`install -d -m 755 -o root -g root ${base}`);
      await forEachEnv(ctx, async (env) => {
        await app.run(
          sh`id -u ${env.user} >/dev/null 2>&1 || adduser --disabled-password --gecos '' --home ${env.root} --no-create-home ${env.user} >/dev/null; ` +
            sh`install -d -m 710 -o ${env.user} -g www-data ${env.root} && install -d -m 700 -o ${env.user} -g ${env.user} ${`${env.root}/.ssh`}`,
        );
        await app.writeFile(`${env.root}/.ssh/authorized_keys`, authorizedKeys(tb.config, [env.name], keys), "600", `${env.user}:${env.user}`);
      });
    },
  },
  {
    name: "app: environment directories",
    phase: "provision",
    async run(ctx) {
      await forEachEnv(ctx, async (env) => {
        const owner = [`-o`, env.user, `-g`, env.user];
        // Releases, venvs and uploads under the environment; the live path is made by the first switch.
        // Shared, the root is the user's (711); per environment, the step above made it (710, www-data).
        const dirs = ctx.tb.config.isolation === "shared" ? [env.root, env.releases, env.venvs, env.shared] : [env.releases, env.venvs, env.shared];
        await ctx.app.run(sh`install -d -m 711 ${owner} ${dirs}`);
        // nginx (www-data) reads uploads here; Django (the environment's user) writes them.
        await ctx.app.run(sh`install -d -m 755 ${owner} ${env.media}`);
      });
    },
  },
  {
    name: "app: wheelhouse",
    phase: "provision",
    async run(ctx) {
      const target = parsePythonTarget((await ctx.app.run(PYTHON_TARGET_PROBE)).stdout);
      const local = await ensureWheelhouse(ctx.project, target, ctx.log);
      const present = new Set((await ctx.app.run(sh`mkdir -p ${APP_WHEELHOUSE} && ls ${APP_WHEELHOUSE}`)).stdout.split("\n"));
      const missing = (await readdir(local)).filter((f) => f.endsWith(".whl") && !present.has(f));
      if (missing.length) {
        await ctx.app.ssh.putFiles(missing.map((f) => ({ local: `${local}/${f}`, remote: `${APP_WHEELHOUSE}/${f}` })));
        await ctx.app.run(sh`chmod 644 ${raw(`${APP_WHEELHOUSE}/*.whl`)}`);
      }
    },
  },
  {
    name: "app: environment files",
    phase: "provision",
    async run(ctx) {
      await forEachEnv(ctx, async (env) => {
        const content = envFile(env, secretsOf(ctx.tb)[env.name], DB_HOST, allowedHosts(), ctx.project, ctx.tb.config.https);
        if (!(await ctx.app.writeFile(env.envFile, content, "600", `${env.user}:${env.user}`)) || ctx.opts.restartChanged === false) return;
        // A running gunicorn still holds the old settings (a new database password, say): restart it.
        if ((await ctx.app.run(sh`systemctl is-active --quiet ${env.unit}`, { allowFailure: true })).exitCode === 0) {
          await ctx.app.run(sh`${gunicornCommands(env.unit).restart}`);
          ctx.restarted.add(env.name);
        }
      });
    },
  },
  {
    name: "app: release tool",
    phase: "provision",
    async run({ app, tb, project }) {
      // The switch asks nginx with a Host the project's ALLOWED_HOSTS accepts (the recipe sets them).
      await installReleaseTool(app, tb.config, tb.envs, { ...project, host: allowedHosts()[0]! });
    },
  },
  {
    name: "app: gunicorn units",
    phase: "provision",
    async run({ app, tb, envs, project }) {
      const written = await Promise.all([
        app.writeFile("/etc/systemd/system/gunicorn.target", gunicornTarget(), "644"),
        app.writeFile("/etc/systemd/system/gunicorn@.service", gunicornTemplate(tb.config, project), "644"),
        app.writeFile("/etc/systemd/system/gunicorn@.socket", gunicornSocket(tb.config), "644"),
      ]);
      const units = envs.flatMap((e) => [`${e.unit}.service`, `${e.unit}.socket`]);
      if (written.some(Boolean)) {
        await verifyUnits(app, units);
        await app.run("systemctl daemon-reload");
      }
      await app.run(sh`systemctl enable --quiet gunicorn.target ${envs.map((e) => e.unit)}`);
    },
  },
  {
    name: "app: nginx sites",
    phase: "provision",
    async run({ app, tb, envs, project }) {
      const changes = await Promise.all(
        envs.map(async (env) => {
          const available = `/etc/nginx/sites-available/${env.site}`;
          const link = `/etc/nginx/sites-enabled/${env.site}`;
          const written = await app.writeFile(available, nginxSite(env, project, tb.config), "644");
          const linked = await app.run(sh`test "$(readlink ${link})" = ${available} || { ln -sfn ${available} ${link} && echo linked; }`);
          return written || linked.stdout.trim() === "linked";
        }),
      );
      // Test before reload, so a broken site never takes the running ones down.
      if (changes.some(Boolean)) await app.run("nginx -t 2>&1 && systemctl reload nginx");
    },
  },
  {
    name: "app: sudoers for the deploy users",
    phase: "provision",
    async run({ app, tb }) {
      const path = `/etc/sudoers.d/${tb.config.deployUser.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const rule = sudoersRule(tb.config, tb.envs);
      // visudo checks the candidate before it is installed: a bad rule must not lock out sudo.
      await app.run(`visudo -cqf /dev/stdin`, { stdin: rule });
      await app.writeFile(path, rule, "440");
    },
  },
];
