import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { ENV_NAMES } from "../../harness/envs.ts";
import { FIXTURE_DIR } from "../../harness/fixture.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { appliedMigrations, withDatabase } from "../../harness/probes/postgres.ts";
import { listeningTcpPorts, unixSocket } from "../../harness/probes/socket.ts";
import { unitState } from "../../harness/probes/systemd.ts";
import { onTestbed, recipeTestbed } from "./support.ts";

const shared = recipeTestbed();

async function fixtureMigrations(): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  const files = await readdir(join(FIXTURE_DIR, "notes", "migrations"));
  return files.filter((f) => /^\d{4}_.*\.py$/.test(f)).map((f) => `notes.${f.replace(/\.py$/, "")}`).sort();
}

describe.each(ENV_NAMES)("environment %s after the recipe", (name) => {
  onTestbed(shared, "gunicorn is active and listens on its unix socket, owned by the deploy user and www-data", async ({ tb }) => {
    const env = tb.env(name);
    expect(await unitState(tb.app, env.unit)).toMatchObject({ activeState: "active", subState: "running" });
    const sock = await unixSocket(tb.app, env.socket);
    expect(sock).toEqual({ path: env.socket, isSocket: true, listening: true, owner: tb.config.deployUser, group: "www-data" });
  });

  onTestbed(shared, "nginx listens on the environment's port and serves the page from its own database", async ({ tb }) => {
    const env = tb.env(name);
    expect(await listeningTcpPorts(tb.app)).toContain(env.port);
    const marker = `note for ${name} ${Date.now()}`;
    await withDatabase(tb, env, (c) => c.query("INSERT INTO notes_note (text, created, pinned) VALUES ($1, now(), false)", [marker]));
    const count = await withDatabase(tb, env, async (c) => Number((await c.query("SELECT count(*) AS n FROM notes_note")).rows[0].n));
    const page = await httpGet(tb.url(name));
    expect(page.status).toBe(200);
    expect(page.text).toContain(`Environment: ${name}</p>`);
    expect(page.text).toContain(`Notes: ${count}</p>`);
    expect(page.text).toContain(`Latest note: ${marker}</p>`);
  });

  onTestbed(shared, "serves /static/ byte for byte from disk, also with gunicorn stopped", async ({ tb }) => {
    const env = tb.env(name);
    const files = ["css/site.css", "img/logo.png"];
    const expected = await Promise.all(files.map((f) => readFile(join(FIXTURE_DIR, "assets", f))));
    await tb.app.check(`systemctl stop ${env.unit}`);
    try {
      expect((await httpGet(tb.url(name))).status).toBe(502);
      for (const [i, f] of files.entries()) {
        const r = await httpGet(tb.url(name, `/static/${f}`));
        expect(r.status, f).toBe(200);
        expect(r.body.equals(expected[i]!), `${f} bytes`).toBe(true);
      }
    } finally {
      await tb.app.check(`systemctl start ${env.unit}`);
    }
    expect((await httpGet(tb.url(name))).status).toBe(200);
  });

  onTestbed(shared, "has every migration of the fixture recorded in its own database", async ({ tb }) => {
    const applied = await appliedMigrations(tb, tb.env(name));
    const expected = await fixtureMigrations();
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect(applied.filter((m) => m.startsWith("notes."))).toEqual(expected);
  });
});
