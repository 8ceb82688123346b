import { describe, expect } from "vitest";
import { ENV_NAMES } from "../../harness/envs.ts";
import { FIXTURE_DIR } from "../../harness/fixture.ts";
import { withDatabase } from "../../harness/probes/postgres.ts";
import { unitState } from "../../harness/probes/systemd.ts";
import { provisionAndDeploy } from "../../harness/recipe/recipe.ts";
import { addNote } from "./checks.ts";
import { log, onTestbed, recipeTestbed } from "./support.ts";

// From the deployed snapshot: the first run renews every secret (so restarts every environment);
// the second must change nothing at all.
const shared = recipeTestbed("deployed");

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
    const snapshot = () => tb.app.check(`stat -c '%n %Y %s %a' ${managed.join(" ")} && sha256sum ${managed.join(" ")}`);
    const pids = () => Promise.all(ENV_NAMES.map(async (n) => (await unitState(tb.app, tb.env(n).unit)).mainPid));
    const before = { files: await snapshot(), pids: await pids() };

    const again = await provisionAndDeploy(tb, { projectDir: FIXTURE_DIR, log });

    expect(again.applied).toEqual({ dev: [], staging: [], prod: [] });
    expect(again.restarted).toEqual([]);
    expect(await snapshot()).toBe(before.files);
    expect(await pids()).toEqual(before.pids);
    for (const name of ENV_NAMES) {
      const rows = await withDatabase(tb, tb.env(name), async (c) => (await c.query("SELECT text FROM notes_note WHERE text = $1", [marker])).rowCount);
      expect(rows, name).toBe(1);
    }
  });
});
