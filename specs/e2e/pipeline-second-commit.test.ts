import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { FIXTURE_DIR } from "../../harness/fixture.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { appliedMigrations, withDatabase } from "../../harness/probes/postgres.ts";
import { deployBranch } from "../../harness/pipeline/testbed-deploy.ts";
import { addNote, expectDeployed, expectNoKeyIn } from "./checks.ts";
import { jobLogs, onTestbed, pipelineTestbed } from "./support.ts";

const shared = pipelineTestbed();

const MIGRATION = `from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0002_note_pinned")]

    operations = [
        migrations.AddField(model_name="note", name="author", field=models.CharField(default="", max_length=80)),
    ]
`;
const BADGE = `<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#2a9d8f"/></svg>\n`;

describe("a second commit through the pipeline", () => {
  onTestbed(shared, "brings its migration, static file, page text and deletion to the server; the venv and the data survive", async ({ tb, data }) => {
    const branch = tb.config.defaultBranch;
    const prod = tb.env("prod");
    const first = await deployBranch(data.target, data.repo, branch);
    expect(first.status, jobLogs(first)).toBe("success");
    await expectDeployed(tb, "prod", FIXTURE_DIR);

    const marker = `written before the second deploy ${Date.now()}`;
    await addNote(tb, "prod", marker);
    const venvBefore = await tb.app.check(`stat -c '%i %Y' ${prod.venv}/bin/python ${prod.venv}/pyvenv.cfg && ${prod.venv}/bin/pip freeze`);
    expect(await tb.app.check(`test -e ${prod.dir}/notes/apps.py && echo present`)).toBe("present\n");

    const models = (await readFile(join(FIXTURE_DIR, "notes", "models.py"), "utf8")).replace(
      "    pinned = models.BooleanField(default=False)\n",
      '    pinned = models.BooleanField(default=False)\n    author = models.CharField(max_length=80, default="")\n',
    );
    const template = (await readFile(join(FIXTURE_DIR, "notes", "templates", "notes", "home.html"), "utf8")).replace("Hello from myproject", "Hello again, from release two");
    await data.repo.commit(branch, "Second release", {
      write: {
        "notes/migrations/0003_note_author.py": MIGRATION,
        "notes/models.py": models,
        "notes/templates/notes/home.html": template,
        "assets/img/badge.svg": BADGE,
      },
      remove: ["notes/apps.py"],
    });

    const second = await deployBranch(data.target, data.repo, branch);
    const logs = jobLogs(second);
    expect(second.status, logs).toBe("success");
    expectNoKeyIn(logs, data.target.deployKey.private);

    expect(await appliedMigrations(tb, prod)).toContain("notes.0003_note_author");
    const badge = await httpGet(tb.url("prod", "/static/img/badge.svg"));
    expect(badge.status).toBe(200);
    expect(badge.text).toBe(BADGE);
    const page = await httpGet(tb.url("prod"));
    expect(page.text).toContain("Hello again, from release two");
    expect(page.text).toContain(`Latest note: ${marker}</p>`);
    expect(await tb.app.check(`test -e ${prod.dir}/notes/apps.py && echo present || echo gone`)).toBe("gone\n");
    expect(await tb.app.check(`stat -c '%i %Y' ${prod.venv}/bin/python ${prod.venv}/pyvenv.cfg && ${prod.venv}/bin/pip freeze`)).toBe(venvBefore);
    const kept = await withDatabase(tb, prod, async (c) => (await c.query("SELECT author FROM notes_note WHERE text = $1", [marker])).rows);
    expect(kept).toEqual([{ author: "" }]);
  });
});
