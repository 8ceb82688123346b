import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { expect } from "vitest";
import type { EnvName } from "../../harness/domain/envs.ts";
import { projectApps } from "../../harness/project/apps.ts";
import type { DjangoProject } from "../../harness/project/detect.ts";
import { sh } from "../../harness/shell/quote.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { appliedMigrations, withDatabase } from "../../harness/probes/postgres.ts";
import { unitState } from "../../harness/probes/systemd.ts";
import { explainStaticMiss } from "../../harness/probes/static-files.ts";
import type { StartedTestbed } from "../../harness/testbed/testbed.ts";
import { dbPassword } from "../../harness/recipe/secrets.ts";
import { failedIds, verifyEnvironment } from "../../harness/verify/verify.ts";
import { reportTable } from "../../harness/verify/report.ts";
import type pg from "pg";

/**
 * The assertions every deployed environment must pass, whichever way it was deployed and whichever
 * project it runs: asked of the server (units, sockets, nginx, the release tool's read-only facts,
 * Postgres), never of a project's own pages or models.
 */

/** An environment's database, as its app role connects (through the app server). */
export function appDatabase<T>(tb: StartedTestbed, name: EnvName, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withDatabase(tb, tb.env(name), { password: dbPassword(tb, name) }, fn);
}

/**
 * A table of the harness's own in an environment's database, written as the app's role: data that
 * a deploy, a migration or a re-run of the recipe must keep. No project's models are assumed.
 */
export async function writeMarker(tb: StartedTestbed, name: EnvName, text: string): Promise<void> {
  await appDatabase(tb, name, async (c) => {
    await c.query("CREATE TABLE IF NOT EXISTS testbed_marker (text text PRIMARY KEY, written timestamptz NOT NULL DEFAULT now())");
    await c.query("INSERT INTO testbed_marker (text) VALUES ($1)", [text]);
  });
}

/** The marker rows with this text, with every column the table has now (a migration may add some). */
export function readMarker(tb: StartedTestbed, name: EnvName, text: string): Promise<Array<Record<string, unknown>>> {
  return appDatabase(tb, name, async (c) => (await c.query("SELECT * FROM testbed_marker WHERE text = $1", [text])).rows);
}

/** The release that answers the health path through nginx now, or a failure saying what answered instead. */
export async function servingRelease(tb: StartedTestbed, name: EnvName, health: string): Promise<{ release: string; commit: string }> {
  const r = await httpGet(tb.url(name, health));
  expect(r.status, `GET ${health} on ${name}: ${r.status} ${r.text.slice(0, 300)}`).toBeLessThan(500);
  expect(r.headers["x-release"], `GET ${health} on ${name}: no X-Release header, so no release of this deploy answered`).toBeTruthy();
  return { release: String(r.headers["x-release"]), commit: String(r.headers["x-commit"]) };
}

/**
 * Static files to fetch, each with the bytes it must have: those the project ships (collected files
 * whose path is the tail of a file in the repository: `what` is that file), or, for a project that
 * ships none, what collectstatic wrote for Django's own apps, read on the server.
 */
export async function staticFilesToFetch(tb: StartedTestbed, name: EnvName, repoDir: string, staticUrl: string): Promise<Array<{ url: string; what: string; shipped: boolean; bytes: () => Promise<Buffer> }>> {
  const root = `${tb.env(name).dir}/.static/`;
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
    return file ? [{ url: `${staticUrl}${c}`, what: file, shipped: true, bytes: async () => readFileSync(join(repoDir, file)) }] : [];
  });
  if (shipped.length) return shipped;
  return collected.filter((c) => /\.(css|js)$/.test(c)).slice(0, 2).map((c) => ({
    url: `${staticUrl}${c}`,
    what: `${c} as collectstatic wrote it (the project ships no static file of its own)`,
    shipped: false,
    bytes: async () => Buffer.from((await tb.app.exec.run(sh`base64 -w0 ${`${root}${c}`}`)).stdout, "base64"),
  }));
}

/** Static files the project ships (up to three), through nginx at its STATIC_URL, byte for byte. */
export async function expectStaticBytes(tb: StartedTestbed, name: EnvName, repoDir: string, project: Pick<DjangoProject, "staticUrl">): Promise<void> {
  const files = await staticFilesToFetch(tb, name, repoDir, project.staticUrl);
  expect(files.length, "collectstatic put no file behind the release's .static").toBeGreaterThan(0);
  for (const { url, what, bytes } of files.slice(0, 3)) {
    const r = await httpGet(tb.url(name, url));
    if (r.status !== 200) expect.fail(`GET ${url} on ${name} answered ${r.status}, not 200.\n${await explainStaticMiss(tb.app, tb.env(name), url.slice(project.staticUrl.length))}`);
    expect(r.body.equals(await bytes()), `${url} is not ${what} byte for byte`).toBe(true);
  }
}

/** Every migration the repository holds is recorded in the environment's own database. */
export async function expectMigrations(tb: StartedTestbed, name: EnvName, repoDir: string, project: Pick<DjangoProject, "appDir">): Promise<void> {
  const expected = projectApps(join(repoDir, project.appDir)).flatMap((a) => a.migrations).sort();
  const applied = await appliedMigrations(tb, tb.env(name), dbPassword(tb, name));
  // A project without migrations of its own still has Django's, recorded by migrate in this database.
  expect(applied.length, `migrate recorded nothing in ${name}'s database`).toBeGreaterThan(0);
  expect(applied.filter((m) => expected.includes(m)).sort()).toEqual(expected);
}

/**
 * `npm run verify`'s checklist (release-tool/checklist.json), the one definition of a right
 * deployment: every check the server sees through the release tool as the environment's user (its
 * unit, workers, socket, live release, database, nginx, health path, static bytes...), and the
 * outside view through nginx's published port. Every check passes, or the failure lists what was
 * seen. Evaluated again for up to 10 s while one fails: a gunicorn just restarted may still be
 * forking its workers.
 */
export async function expectChecklistPasses(tb: StartedTestbed, name: EnvName): Promise<void> {
  const env = tb.env(name);
  const report = await verifyEnvironment({ runner: tb.app.exec, as: env.user, config: tb.config, env, baseUrl: tb.url(name) }, { retryTimeoutMs: 10_000 });
  expect(failedIds(report), reportTable(report)).toEqual([]);
}

/**
 * Everything at once, for specs that deploy and then check an environment: the checklist, and what
 * only the repository can tell (its static files' bytes, its migrations).
 */
export async function expectDeployed(tb: StartedTestbed, name: EnvName, repoDir: string, project: DjangoProject): Promise<void> {
  await expectChecklistPasses(tb, name);
  await expectStaticBytes(tb, name, repoDir, project);
  await expectMigrations(tb, name, repoDir, project);
}

export async function mainPids(tb: StartedTestbed): Promise<Record<EnvName, number>> {
  const entries = await Promise.all(tb.envs.map(async (e) => [e.name, (await unitState(tb.app, e.unit)).mainPid] as const));
  return Object.fromEntries(entries) as Record<EnvName, number>;
}

/** The job logs must never show the deploy key, not even one line of it. */
export function expectNoKeyIn(log: string, privateKey: string): void {
  const body = privateKey.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));
  expect(body.length).toBeGreaterThan(0);
  for (const line of body) expect(log.includes(line), "a line of the private key is in the job log").toBe(false);
}

/**
 * The release tool's commands a job ran on an environment, as its log echoes them, in order: each
 * as [step, ...its Django steps] (`prepare` carries check, collectstatic, migrate).
 */
export function releaseCommandsRan(logs: string, env: EnvName, tool: string): string[][] {
  return [...logs.matchAll(new RegExp(`^\\$ ssh deploy-target ${tool} ${env} (\\w+)(.*)$`, "gm"))].map((m) => [m[1]!, ...m[2]!.split(" ").filter((w) => /^[a-z]+$/.test(w))]);
}
