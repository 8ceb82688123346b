import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import { waitFor } from "../../harness/core/deadline.ts";
import type { EnvName } from "../../harness/core/envs.ts";
import { sh } from "../../harness/shell/quote.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { appliedMigrations, withDatabase } from "../../harness/probes/postgres.ts";
import { listeningTcpPorts, unixSocket } from "../../harness/probes/socket.ts";
import { unitState } from "../../harness/probes/systemd.ts";
import { explainStaticMiss } from "../../harness/probes/static-files.ts";
import type { StartedTestbed } from "../../harness/testbed/testbed.ts";
import { dbPassword } from "../../harness/recipe/secrets.ts";
import type pg from "pg";

/** The assertions every deployed environment must pass, whichever way it was deployed. */

/** An environment's database, as its app role connects (through the app server). */
export function appDatabase<T>(tb: StartedTestbed, name: EnvName, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withDatabase(tb, tb.env(name), { password: dbPassword(tb, name) }, fn);
}

/** Writes a row to the sample app's table in an environment's own database, as the app's role. */
export function addNote(tb: StartedTestbed, name: EnvName, text: string, pinned = false): Promise<unknown> {
  return appDatabase(tb, name, (c) => c.query("INSERT INTO notes_note (text, created, pinned) VALUES ($1, now(), $2)", [text, pinned]));
}

export async function expectGunicornSocket(tb: StartedTestbed, name: EnvName): Promise<void> {
  const env = tb.env(name);
  const state = await unitState(tb.app, env.unit);
  expect(state).toMatchObject({ activeState: "active", subState: "running" });
  // The environment's worker count (WEB_CONCURRENCY), as gunicorn's children once it has booted them.
  let children = "";
  await waitFor(`${name}: gunicorn (pid ${state.mainPid}) did not run its ${env.workers} worker(s) (WEB_CONCURRENCY)`, async () => {
    children = (await tb.app.exec.run(sh`pgrep -c -P ${String(state.mainPid)}`, { allowFailure: true })).stdout.trim();
    return children === String(env.workers) ? true : undefined;
  }, { timeoutMs: 10_000, describe: () => `it has ${children || "no"} child processes` });
  expect(await unixSocket(tb.app, env.socket)).toEqual({ path: env.socket, isSocket: true, listening: true, owner: tb.config.deployUser, group: "www-data" });
}

/** The page names the environment and shows a row written to that environment's database just now. */
export async function expectPageFromOwnDatabase(tb: StartedTestbed, name: EnvName, text = "Hello from myproject"): Promise<void> {
  const env = tb.env(name);
  expect(await listeningTcpPorts(tb.app)).toContain(env.port);
  const marker = `note for ${name} ${Date.now()}`;
  await addNote(tb, name, marker);
  const count = await appDatabase(tb, name, async (c) => Number((await c.query("SELECT count(*) AS n FROM notes_note")).rows[0].n));
  const page = await httpGet(tb.url(name));
  expect(page.status).toBe(200);
  expect(page.text).toContain(text);
  expect(page.text).toContain(`Environment: ${name}</p>`);
  expect(page.text).toContain(`Notes: ${count}</p>`);
  expect(page.text).toContain(`Latest note: ${marker}</p>`);
}

export async function expectStaticBytes(tb: StartedTestbed, name: EnvName, projectDir: string, files = ["css/site.css", "img/logo.png"]): Promise<void> {
  for (const f of files) {
    const r = await httpGet(tb.url(name, `/static/${f}`));
    if (r.status !== 200) expect.fail(`GET /static/${f} on ${name} answered ${r.status}, not 200.\n${await explainStaticMiss(tb.app, tb.env(name), f)}`);
    expect(r.body.equals(await readFile(join(projectDir, "assets", f))), `${f} bytes`).toBe(true);
  }
}

export async function projectMigrations(projectDir: string): Promise<string[]> {
  const files = await readdir(join(projectDir, "notes", "migrations"));
  return files.filter((f) => /^\d{4}_.*\.py$/.test(f)).map((f) => `notes.${f.replace(/\.py$/, "")}`).sort();
}

export async function expectMigrations(tb: StartedTestbed, name: EnvName, projectDir: string): Promise<void> {
  const applied = await appliedMigrations(tb, tb.env(name), dbPassword(tb, name));
  const expected = await projectMigrations(projectDir);
  expect(expected.length).toBeGreaterThanOrEqual(2);
  expect(applied.filter((m) => m.startsWith("notes."))).toEqual(expected);
}

/** Everything at once, for specs that deploy and then check an environment. */
export async function expectDeployed(tb: StartedTestbed, name: EnvName, projectDir: string): Promise<void> {
  await expectGunicornSocket(tb, name);
  await expectPageFromOwnDatabase(tb, name);
  await expectStaticBytes(tb, name, projectDir);
  await expectMigrations(tb, name, projectDir);
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
export function releaseCommandsRan(logs: string, env: EnvName, project = "myproject"): string[][] {
  return [...logs.matchAll(new RegExp(`^\\$ ssh deploy-target ${project}-release ${env} (\\w+)(.*)$`, "gm"))].map((m) => [m[1]!, ...m[2]!.split(" ").filter((w) => /^[a-z]+$/.test(w))]);
}
