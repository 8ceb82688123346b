import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect } from "vitest";
import type { EnvName } from "../../harness/core/envs.ts";
import { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { projectApps } from "../../harness/project/apps.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { appliedMigrations } from "../../harness/probes/postgres.ts";
import { listeningTcpPorts } from "../../harness/probes/socket.ts";
import { sh } from "../../harness/shell/quote.ts";
import { dbPassword } from "../../harness/recipe/secrets.ts";
import type { StartedTestbed } from "../../harness/testbed/testbed.ts";
import { expectGunicornSocket } from "./checks.ts";
import { expectNoFailedRequests, jobLogs, onTestbed, sharedTestbed, SPEC_TRAFFIC, type Shared } from "./support.ts";

/**
 * What every Django project must show once deployed, asked of the server and never of the
 * project's own code: the specs a team runs on its repository (`TESTBED_PROJECT=PATH npm test`),
 * and on each fixture shape. Nothing here knows a project's models, pages or files beyond what the
 * repository holds: its migrations, its static files, its health path.
 */

/**
 * Static files to fetch, each with the bytes it must have: those the project ships (collected files
 * whose path is the tail of a file in the repository), or, for a project that ships none, what
 * collectstatic wrote for Django's own apps, read on the server.
 */
async function staticFilesToFetch(tb: StartedTestbed, env: EnvName, repoDir: string, staticUrl: string): Promise<Array<{ url: string; what: string; bytes: () => Promise<Buffer> }>> {
  const root = `${tb.env(env).dir}/.static/`;
  const collected = (await tb.app.exec.run(sh`cd ${root} && find . -type f | sed 's#^\\./##' | sort`)).stdout.split("\n").filter(Boolean);
  const repoFiles: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith(".") || ["node_modules", "venv", "staticfiles", "static_collected", "public"].includes(e.name)) continue;
      if (e.isDirectory()) walk(join(dir, e.name));
      else repoFiles.push(relative(repoDir, join(dir, e.name)));
    }
  };
  walk(repoDir);
  const shipped = collected.flatMap((c) => {
    const file = repoFiles.find((f) => f.endsWith(`/${c}`));
    return file ? [{ url: `${staticUrl}${c}`, what: file, bytes: async () => readFileSync(join(repoDir, file)) }] : [];
  });
  if (shipped.length) return shipped;
  return collected.filter((c) => /\.(css|js)$/.test(c)).slice(0, 2).map((c) => ({
    url: `${staticUrl}${c}`,
    what: `${c} as collectstatic wrote it (the project ships no static file of its own)`,
    bytes: async () => Buffer.from((await tb.app.exec.run(sh`base64 -w0 ${`${root}${c}`}`)).stdout, "base64"),
  }));
}

/** The release that answers the health path now, or a failure saying what answered instead. */
async function servingRelease(tb: StartedTestbed, env: EnvName, health: string): Promise<{ release: string; commit: string }> {
  const r = await httpGet(tb.url(env, health));
  expect(r.status, `GET ${health} on ${env}: ${r.status} ${r.text.slice(0, 300)}`).toBeLessThan(500);
  expect(r.headers["x-release"], `GET ${health} on ${env}: no X-Release header, so no release of this deploy answered`).toBeTruthy();
  return { release: String(r.headers["x-release"]), commit: String(r.headers["x-commit"]) };
}

/**
 * The observing specs for one project's repository: a testbed from the provisioned snapshot, set up
 * for the project and deployed to prod through the generated pipeline; then what is on the server.
 */
export function observeProject(label: string, projectDir: string): void {
  const env: EnvName = "prod";
  const shared: () => Shared<PipelineDeployment> = sharedTestbed(async (tb) => {
    const deployment = await PipelineDeployment.provision(tb, { projectDir, envs: [env] });
    const { result } = await deployment.deploy({ env });
    if (result.status !== "success") throw new Error(`the first deploy of ${projectDir} failed:\n${jobLogs(result)}`);
    return deployment;
  }, "provisioned");

  describe(`${label}: deployed to prod through the pipeline`, () => {
    onTestbed(shared, "gunicorn@prod runs its workers on the socket systemd holds, owned by the deploy user and www-data", ({ tb }) => expectGunicornSocket(tb, env));

    onTestbed(shared, "nginx listens on prod's port, and the health path answers below 500 from the live release", async ({ tb, data }) => {
      expect(await listeningTcpPorts(tb.app)).toContain(tb.env(env).port);
      const { release } = await servingRelease(tb, env, data.project.health);
      const live = (await tb.app.exec.run(sh`readlink ${tb.env(env).dir}`)).stdout.trim();
      expect(live).toBe(`releases/${release}`);
    });

    onTestbed(shared, "serves a static file the project ships, byte for byte, from its STATIC_ROOT at its STATIC_URL", async ({ tb, data }) => {
      const files = await staticFilesToFetch(tb, env, data.repo.dir, data.project.staticUrl);
      expect(files.length, "collectstatic put no file behind the release's .static").toBeGreaterThan(0);
      for (const { url, what, bytes } of files.slice(0, 3)) {
        const r = await httpGet(tb.url(env, url));
        expect(r.status, `GET ${url}`).toBe(200);
        expect(r.body.equals(await bytes()), `${url} is not ${what} byte for byte`).toBe(true);
      }
    });

    onTestbed(shared, "has every migration of the repository applied in prod's own Postgres database", async ({ tb, data }) => {
      const expected = projectApps(join(data.repo.dir, data.project.appDir)).flatMap((a) => a.migrations).sort();
      const applied = await appliedMigrations(tb, tb.env(env), dbPassword(tb, env));
      // A project without migrations of its own still has Django's, recorded by migrate in this database.
      expect(applied.length, "migrate recorded nothing in prod's database").toBeGreaterThan(0);
      expect(applied.filter((m) => expected.includes(m)).sort()).toEqual(expected);
    });

    onTestbed(shared, "a redeploy, then a rollback, under traffic: 0 failed requests, each commit taking over in turn", async ({ tb, data }) => {
      const before = await servingRelease(tb, env, data.project.health);
      const branch = data.branchFor(env);
      const commit = await data.repo.commit(branch, "A change to redeploy", { write: { "DEPLOYED_BY_TESTBED.txt": `${Date.now()}\n` } });
      const redeploy = await data.deploy({ env }, { traffic: SPEC_TRAFFIC });
      expect(redeploy.result.status, jobLogs(redeploy.result)).toBe("success");
      expectNoFailedRequests(redeploy.traffic!, env, "the redeploy");
      expect(redeploy.traffic!.commits).toEqual([before.commit, commit]);
      const rollback = await data.rollback(env, { traffic: SPEC_TRAFFIC });
      expect(rollback.result.status, jobLogs(rollback.result)).toBe("success");
      expectNoFailedRequests(rollback.traffic!, env, "the rollback");
      expect(rollback.traffic!.commits).toEqual([commit, before.commit]);
      expect((await servingRelease(tb, env, data.project.health)).release).toBe(before.release);
    });
  });
}
