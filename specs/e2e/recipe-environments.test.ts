import { describe, expect } from "vitest";
import { ENV_NAMES } from "../../harness/envs.ts";
import { FIXTURE_DIR } from "../../harness/fixture.ts";
import { fileInfo } from "../../harness/probes/files.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { expectGunicornSocket, expectMigrations, expectPageFromOwnDatabase, expectStaticBytes } from "./checks.ts";
import { onTestbed, recipeTestbed } from "./support.ts";

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
    await tb.app.check(`systemctl stop ${env.unit}`);
    try {
      expect((await httpGet(tb.url(name))).status).toBe(502);
      await expectStaticBytes(tb, name, FIXTURE_DIR);
    } finally {
      await tb.app.check(`systemctl start ${env.unit}`);
    }
    expect((await httpGet(tb.url(name))).status).toBe(200);
  });

  onTestbed(shared, "has every migration of the fixture recorded in its own database", ({ tb }) => expectMigrations(tb, name, FIXTURE_DIR));

  onTestbed(shared, "keeps its secrets in an environment file only the deploy user can read, outside the code", async ({ tb }) => {
    const env = tb.env(name);
    const info = await fileInfo(tb.app, env.envFile);
    expect(info).toMatchObject({ exists: true, mode: "600", owner: tb.config.deployUser, group: tb.config.deployUser });
    expect(env.envFile.startsWith(`${env.dir}/`)).toBe(false);
    const asNginx = await tb.app.sh(`cat ${env.envFile}`, { user: "www-data" });
    expect(asNginx.exitCode).not.toBe(0);
  });
});
