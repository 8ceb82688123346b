import { describe, expect } from "vitest";
import { ENV_NAMES } from "../../harness/envs.ts";
import { FIXTURE_DIR } from "../../harness/fixture.ts";
import { fileInfo } from "../../harness/probes/files.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { expectGunicornSocket, expectMigrations, expectPageFromOwnDatabase, expectStaticBytes } from "./checks.ts";
import { provisionAndDeploy } from "../../harness/recipe/recipe.ts";
import { unitState } from "../../harness/probes/systemd.ts";
import { addNote, appDatabase } from "./checks.ts";
import { log, onTestbed, recipeTestbed } from "./support.ts";

// One testbed for what only observes a recipe-deployed server, and for the re-run that must change
// nothing on it: one start and one recipe run instead of two.
const shared = recipeTestbed();

describe.each(ENV_NAMES)("environment %s after the recipe", (name) => {
  onTestbed(shared, "gunicorn is active and listens on its unix socket, owned by the deploy user and www-data", ({ tb }) =>
    expectGunicornSocket(tb, name),
  );

  onTestbed(shared, "nginx listens on the environment's port and serves the page from its own database", ({ tb }) =>
    expectPageFromOwnDatabase(tb, name),
  );

  onTestbed(shared, "serves /static/ byte for byte from disk, also with gunicorn stopped", async ({ tb }) => {
    const env = tb.env(name);
    await tb.app.exec.run(`systemctl stop ${env.unit}`);
    try {
      expect((await httpGet(tb.url(name))).status).toBe(502);
      await expectStaticBytes(tb, name, FIXTURE_DIR);
    } finally {
      await tb.app.exec.run(`systemctl start ${env.unit}`);
    }
    expect((await httpGet(tb.url(name))).status).toBe(200);
  });

  onTestbed(shared, "has every migration of the fixture recorded in its own database", ({ tb }) => expectMigrations(tb, name, FIXTURE_DIR));

  onTestbed(shared, "keeps its secrets in an environment file only the deploy user can read, outside the code", async ({ tb }) => {
    const env = tb.env(name);
    const info = await fileInfo(tb.app, env.envFile);
    expect(info).toMatchObject({ exists: true, mode: "600", owner: tb.config.deployUser, group: tb.config.deployUser });
    expect(env.envFile.startsWith(`${env.dir}/`)).toBe(false);
    const asNginx = await tb.app.exec.run(`cat ${env.envFile}`, { as: "www-data", allowFailure: true });
    expect(asNginx.exitCode).not.toBe(0);
  });
});

describe("running the recipe again", () => {
  onTestbed(shared, "changes nothing and loses no data", async ({ tb, data: report }) => {
    expect([...report.restarted].sort()).toEqual(["dev", "prod", "staging"]);
    const marker = `kept across re-runs ${Date.now()}`;
    for (const name of ENV_NAMES) {
      await addNote(tb, name, marker, true);
    }
    const managed = [
      "/etc/systemd/system/gunicorn.target",
      "/etc/systemd/system/gunicorn@.service",
      `/etc/sudoers.d/${tb.config.deployUser}`,
      ...tb.envs.flatMap((e) => [`/etc/nginx/sites-available/${e.site}`, e.envFile, `${e.dir}/manage.py`, `${e.dir}/myproject/settings.py`]),
    ];
    const snapshot = () => tb.app.exec.run(`stat -c '%n %Y %s %a' ${managed.join(" ")} && sha256sum ${managed.join(" ")}`).then((r) => r.stdout);
    const pids = () => Promise.all(ENV_NAMES.map(async (n) => (await unitState(tb.app, tb.env(n).unit)).mainPid));
    const before = { files: await snapshot(), pids: await pids() };

    const again = await provisionAndDeploy(tb, { projectDir: FIXTURE_DIR, log });

    expect(again.applied).toEqual({ dev: [], staging: [], prod: [] });
    expect(again.restarted).toEqual([]);
    expect(await snapshot()).toBe(before.files);
    expect(await pids()).toEqual(before.pids);
    for (const name of ENV_NAMES) {
      const rows = await appDatabase(tb, name, async (c) => (await c.query("SELECT text FROM notes_note WHERE text = $1", [marker])).rowCount);
      expect(rows, name).toBe(1);
    }
  });
});
