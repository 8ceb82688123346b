import { readdir } from "node:fs/promises";
import type { Step } from "../lifecycle/runner.ts";
import { ensureWheelhouse } from "../wheelhouse.ts";
import { SERVER_ALIASES } from "../testbed/server.ts";
import { APP_WHEELHOUSE, forEachEnv, type RecipeContext } from "./context.ts";
import { ALLOWED_HOSTS } from "./deliver.ts";
import { envFile } from "./env-file.ts";
import { nginxSite } from "./nginx.ts";
import { sudoersRule } from "./sudoers.ts";
import { gunicornTarget, gunicornTemplate } from "./units.ts";

/** One-time setup of the app server: the deploy user, its directories, venvs, units, sites, sudo. */
export const appSteps: Step<RecipeContext>[] = [
  {
    name: "app: deploy user",
    phase: "provision",
    async run({ app, tb, opts }) {
      const user = tb.config.deployUser;
      const home = tb.envs[0]!.home;
      await app.run(
        `id -u ${user} >/dev/null 2>&1 || adduser --disabled-password --gecos '' ${user} >/dev/null; ` +
          // nginx (www-data) must traverse the home to reach static files and sockets; it lists nothing.
          `chmod 711 ${home} && install -d -m 700 -o ${user} -g ${user} ${home}/.ssh`,
      );
      const keys = (opts.deployKeys ?? []).map((k) => k.trim()).join("\n");
      await app.writeFile(`${home}/.ssh/authorized_keys`, keys ? `${keys}\n` : "", "600", `${user}:${user}`);
    },
  },
  {
    name: "app: directories and virtualenvs",
    phase: "provision",
    async run(ctx) {
      const user = ctx.tb.config.deployUser;
      await forEachEnv(ctx, async (env) => {
        await ctx.app.run(`install -d -m 711 -o ${user} -g ${user} ${env.home}/${env.name} ${env.dir}`);
        await ctx.app.run(`test -x ${env.venv}/bin/python || python3 -m venv ${env.venv}`, { as: user });
      });
    },
  },
  {
    name: "app: wheelhouse",
    phase: "provision",
    async run(ctx) {
      const probe = await ctx.app.run(`python3 -c 'import sys, platform; print("%d.%d" % sys.version_info[:2], platform.machine())'`);
      const [version, machine] = probe.stdout.trim().split(" ") as [string, string];
      const local = await ensureWheelhouse(`${ctx.opts.projectDir}/requirements.txt`, { version, machine }, ctx.log);
      const present = new Set((await ctx.app.run(`mkdir -p ${APP_WHEELHOUSE} && ls ${APP_WHEELHOUSE}`)).stdout.split("\n"));
      const missing = (await readdir(local)).filter((f) => f.endsWith(".whl") && !present.has(f));
      if (missing.length) {
        await ctx.app.ssh.putFiles(missing.map((f) => ({ local: `${local}/${f}`, remote: `${APP_WHEELHOUSE}/${f}` })));
        await ctx.app.run(`chmod 644 ${APP_WHEELHOUSE}/*.whl`);
      }
      ctx.remoteWheelhouse = APP_WHEELHOUSE;
    },
  },
  {
    name: "app: environment files",
    phase: "provision",
    async run(ctx) {
      const user = ctx.tb.config.deployUser;
      await forEachEnv(ctx, async (env) => {
        const content = envFile(env, ctx.tb.secrets[env.name], SERVER_ALIASES.db, ALLOWED_HOSTS);
        if (await ctx.app.writeFile(env.envFile, content, "600", `${user}:${user}`)) ctx.changed.add(env.name);
      });
    },
  },
  {
    name: "app: gunicorn units",
    phase: "provision",
    async run({ app, tb, envs }) {
      const a = await app.writeFile("/etc/systemd/system/gunicorn.target", gunicornTarget(), "644");
      const b = await app.writeFile("/etc/systemd/system/gunicorn@.service", gunicornTemplate(tb.config, tb.envs), "644");
      if (a || b) await app.run("systemctl daemon-reload");
      await app.run(`systemctl enable --quiet gunicorn.target ${envs.map((e) => e.unit).join(" ")}`);
    },
  },
  {
    name: "app: nginx sites",
    phase: "provision",
    async run({ app, envs }) {
      let changed = false;
      for (const env of envs) {
        changed = (await app.writeFile(`/etc/nginx/sites-available/${env.site}`, nginxSite(env), "644")) || changed;
        const link = `/etc/nginx/sites-enabled/${env.site}`;
        const linked = await app.run(`test "$(readlink ${link})" = /etc/nginx/sites-available/${env.site}`, { allowFailure: true });
        if (linked.code !== 0) {
          await app.run(`ln -sfn /etc/nginx/sites-available/${env.site} ${link}`);
          changed = true;
        }
      }
      // Test before reload, so a broken site never takes the running ones down.
      if (changed) await app.run("nginx -t 2>&1 && systemctl reload nginx");
    },
  },
  {
    name: "app: sudoers for the deploy user",
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
