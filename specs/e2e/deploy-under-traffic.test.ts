import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FormData, request } from "undici";
import { describe, expect } from "vitest";
import { fixtureRequirements, type FixtureChanges } from "../../harness/core/fixtures.ts";
import { fileInfo } from "../../harness/probes/file-info.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { appliedMigrations } from "../../harness/probes/postgres.ts";
import { trafficLine, type TrafficReport } from "../../harness/probes/traffic.ts";
import { sh } from "../../harness/shell/quote.ts";
import { dbPassword } from "../../harness/recipe/secrets.ts";
import { addNote, appDatabase, expectNoKeyIn, releaseCommandsRan } from "./checks.ts";
import { deployUnderTraffic, expectNoFailedRequests, jobLogs, onTestbed, pipelineTestbed, sampleProject, servedCommit, SPEC_TRAFFIC } from "./support.ts";

// Every deploy of this file goes to prod, under traffic, on one testbed: first releases and
// rollbacks (from the release the snapshot serves), then requirements, broken releases and deploys
// in a row. The second part's checks are relative to what it finds, so it follows the first.
const shared = pipelineTestbed();

const releases = (s: ReturnType<typeof shared>) => s.tb.app.exec.run(`ls ${s.tb.env("prod").releases}`).then((r) => r.stdout);
const venvs = (s: ReturnType<typeof shared>) => s.tb.app.exec.run(`ls ${s.tb.env("prod").venvs}`).then((r) => r.stdout);

const MIGRATION = `from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0002_note_pinned")]

    operations = [
        migrations.AddField(model_name="note", name="author", field=models.CharField(default="", max_length=80)),
    ]
`;
const BADGE = `<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#2a9d8f"/></svg>\n`;

/** No request failed, and the commits answered in exactly this order (no old answer after the new). */
function expectSeamless(traffic: TrafficReport, commits: string[]): void {
  expectNoFailedRequests(traffic, "prod", "the deploy", 20);
  expect(traffic.commits, trafficLine("prod", traffic)).toEqual(commits);
}

// The commits of this file's releases, in the order the tests make them.
const commits: string[] = [];

/** What lives on the server only: an upload through the app, a log, the environment file. */
const serverData = { upload: randomBytes(3000), url: "", log: `server-only log line ${Date.now()}\n`, envFileSha: "" };

describe("deploys and rollbacks through the pipeline, under traffic on prod", () => {
  onTestbed(shared, "a code change: a new release with a new page, a new static file and a removed file; 0 failed requests", async (s) => {
    const { tb, data } = s;
    const branch = tb.config.defaultBranch;
    const prod = tb.env("prod");
    // The first release is the one the snapshot serves (deployed by the recipe).
    commits.push(await servedCommit(tb, "prod"));
    // A user's upload (through nginx and Django), a log and the settings: none of it may change below.
    const form = new FormData();
    form.append("file", new Blob([serverData.upload]), "avatar.png");
    const posted = await request(tb.url("prod", "/upload"), { method: "POST", body: form });
    expect(posted.statusCode).toBe(201);
    serverData.url = ((await posted.body.json()) as { url: string }).url;
    expect(serverData.url).toMatch(/^\/media\/uploads\/avatar.*\.png$/);
    await tb.app.exec.run(sh`install -d ${`${prod.shared}/logs`} && printf %s ${serverData.log} > ${`${prod.shared}/logs/app.log`}`, { as: tb.config.deployUser });
    serverData.envFileSha = (await fileInfo(tb.app, prod.envFile)).sha256;

    const marker = `written before the second deploy ${Date.now()}`;
    await addNote(tb, "prod", marker);
    const template = (await readFile(join(sampleProject(), "notes", "templates", "notes", "home.html"), "utf8")).replace("Hello from myproject", "Hello again, from release two");
    commits.push(
      await data.repo.commit(branch, "Second release", {
        write: { "notes/templates/notes/home.html": template, "assets/img/badge.svg": BADGE },
        remove: ["notes/apps.py"],
      }),
    );
    const second = await deployUnderTraffic(s, branch);
    const logs = jobLogs(second.result);
    expect(second.result.status, logs).toBe("success");
    expectNoKeyIn(logs, data.deployKey.private);
    expectSeamless(second.traffic, [commits[0]!, commits[1]!]);

    const page = await httpGet(tb.url("prod"));
    expect(page.text).toContain("Hello again, from release two");
    expect(page.text).toContain(`Release: ${commits[1]!.slice(0, 8)}`);
    expect(page.text).toContain(`Latest note: ${marker}</p>`);
    expect((await httpGet(tb.url("prod", "/static/img/badge.svg"))).text).toBe(BADGE);
    expect((await tb.app.exec.run(`test -e ${prod.dir}/notes/apps.py && echo present || echo gone`)).stdout).toBe("gone\n");
    // The live path is a link to the newest release; the earlier ones are kept for rollbacks.
    const live = ((await tb.app.exec.run(`readlink ${prod.dir}`)).stdout).trim();
    const kept = (await releases(s)).trim().split("\n");
    expect(kept).toHaveLength(2);
    expect(live).toBe(`releases/${kept.at(-1)}`);
    expect(live).toMatch(new RegExp(`-${commits[1]!.slice(0, 8)}$`));
  });

  onTestbed(shared, "the manual rollback job switches back to the previous release with 0 failed requests", async (s) => {
    const rollback = await deployUnderTraffic(s, s.tb.config.defaultBranch, { jobs: ["rollback-production"] });
    expect(rollback.result.status, jobLogs(rollback.result)).toBe("success");
    expect(rollback.result.jobs.map((j) => j.name)).toEqual(["rollback-production"]);
    expectSeamless(rollback.traffic, [commits[1]!, commits[0]!]);
    expect((await httpGet(s.tb.url("prod"))).text).toContain("Hello from myproject");
  });

  onTestbed(shared, "an additive migration keeps the rows written before it; a rollback past it stops and lists it unless allowed", async (s) => {
    const { tb, data } = s;
    const branch = tb.config.defaultBranch;
    const marker = `written before the migration ${Date.now()}`;
    await addNote(tb, "prod", marker);
    const models = (await readFile(join(sampleProject(), "notes", "models.py"), "utf8")).replace(
      "    pinned = models.BooleanField(default=False)\n",
      '    pinned = models.BooleanField(default=False)\n    author = models.CharField(max_length=80, default="")\n',
    );
    commits.push(await data.repo.commit(branch, "Notes get an author", { write: { "notes/migrations/0003_note_author.py": MIGRATION, "notes/models.py": models } }));
    const deploy = await deployUnderTraffic(s, branch);
    expect(deploy.result.status, jobLogs(deploy.result)).toBe("success");
    expectSeamless(deploy.traffic, [commits[0]!, commits[2]!]);
    expect(await appliedMigrations(tb, tb.env("prod"), dbPassword(tb, "prod"))).toContain("notes.0003_note_author");
    const kept = await appDatabase(tb, "prod", async (c) => (await c.query("SELECT author FROM notes_note WHERE text = $1", [marker])).rows);
    expect(kept).toEqual([{ author: "" }]);

    // The previous release (the second) has no 0003: the rollback stops, names it, and changes nothing.
    const refused = await deployUnderTraffic(s, branch, { jobs: ["rollback-production"] });
    const logs = jobLogs(refused.result);
    expect(refused.result.status, `a rollback past migration notes.0003_note_author went ahead without --allow-migrations:\n${logs}`).toBe("failed");
    expect(logs).toMatch(/rollback to \S+ stopped: the database has migrations that release lacks:\n\s+notes\.0003_note_author\n/);
    expect(logs).toContain("roll back with --allow-migrations");
    expectSeamless(refused.traffic, [commits[2]!]);

    const allowed = await deployUnderTraffic(s, branch, {
      jobs: ["rollback-production"],
      variables: { ROLLBACK_TO: commits[0]!.slice(0, 8), ROLLBACK_ALLOW_MIGRATIONS: "1" },
    });
    expect(allowed.result.status, jobLogs(allowed.result)).toBe("success");
    expectSeamless(allowed.traffic, [commits[2]!, commits[0]!]);
  });

  onTestbed(shared, "an upload, a log and the environment file outlive every deploy and rollback above, byte for byte", async ({ tb }) => {
    const prod = tb.env("prod");
    const served = await httpGet(tb.url("prod", serverData.url));
    expect(served.status, `the upload ${serverData.url}, made before the deploys, answers ${served.status} after them`).toBe(200);
    expect(served.body.equals(serverData.upload), `the upload ${serverData.url} changed`).toBe(true);
    expect((await tb.app.exec.run(sh`cat ${`${prod.shared}/logs/app.log`}`)).stdout).toBe(serverData.log);
    expect((await fileInfo(tb.app, prod.envFile)).sha256).toBe(serverData.envFileSha);
    // Each kept release links to the same uploads; none holds its own.
    const links = await tb.app.exec.run(sh`cd ${prod.releases} && for r in */; do readlink -f "$r/media"; done | sort -u`);
    expect(links.stdout.trim()).toBe(prod.media);
  });
});

const BROKEN: Array<[what: string, step: string, changes: FixtureChanges, says: RegExp]> = [
  ["an import error in the new code", "check", { write: { "notes/views.py": "import notes.no_such_module\n" } }, /ModuleNotFoundError: No module named 'notes\.no_such_module'/],
  ["a requirement pip cannot install", "venv", { write: { "requirements.txt": fixtureRequirements(sampleProject(), "ddt-no-such-package==9.9.9") } }, /No matching distribution found for ddt-no-such-package==9\.9\.9/],
  [
    "a STATIC_ROOT outside the release (where the deploy user cannot write either)",
    "collectstatic",
    { write: { "myproject/settings.py": `${readFileSync(join(sampleProject(), "myproject", "settings.py"), "utf8")}\nSTATIC_ROOT = "/root/static"\n` } },
    /STATIC_ROOT is \/root\/static, outside the release \S+; each release needs its own/,
  ],
  [
    // Production runs `check --deploy` and fails on its warnings (W018: DEBUG on).
    "DEBUG switched on in the settings",
    "check",
    { write: { "myproject/settings.py": `${readFileSync(join(sampleProject(), "myproject", "settings.py"), "utf8")}\nDEBUG = True\n` } },
    /\(security\.W018\) You should not have DEBUG set to True in deployment/,
  ],
];

describe("releases under traffic on prod: requirements, broken releases, deploys in a row", () => {
  onTestbed(shared, "a requirements change builds a new venv before the switch and leaves the running release's venv as it was", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const prod = s.tb.env("prod");
    const oldVenv = ((await s.tb.app.exec.run(`readlink ${prod.venv}`)).stdout).trim();
    // A venv, through a release's link to it: its config file's inode and time, and its packages.
    const fingerprint = (link: string) => s.tb.app.exec.run(`cd ${prod.releases} && stat -c '%i %Y' $(readlink -f ${link})/pyvenv.cfg && python3 -m pip --python ${link}/bin/python freeze`).then((r) => r.stdout);
    const before = { venvs: await venvs(s), old: await fingerprint(prod.venv) };

    const commit = await s.data.repo.commit(branch, "Pin sqlparse", { write: { "requirements.txt": fixtureRequirements(sampleProject(), "sqlparse>=0.5") } });
    const oldLive = ((await s.tb.app.exec.run(`readlink -f ${prod.dir}`)).stdout).trim();
    const second = await deployUnderTraffic(s, branch);
    expect(second.result.status, jobLogs(second.result)).toBe("success");
    expect(jobLogs(second.result)).toMatch(/built venv py\d+-[0-9a-f]{16} in/);
    expectNoFailedRequests(second.traffic, "prod", "the deploy");
    expect(second.traffic.commits.at(-1)).toBe(commit);
    const newVenv = ((await s.tb.app.exec.run(`readlink ${prod.venv}`)).stdout).trim();
    expect(newVenv).not.toBe(oldVenv);
    expect((await venvs(s)).trim().split("\n")).toHaveLength(before.venvs.trim().split("\n").length + 1);
    // The previous release and its venv are untouched: same inode, same time, same packages.
    expect(await fingerprint(`${oldLive}/myprojectenv`)).toBe(before.old);
  });

  for (const [what, step, changes, says] of BROKEN) {
    onTestbed(shared, `${what}: the job fails at "${step}" and says why; the half-made release is gone; the old commit serves with 0 failed requests`, async (s) => {
      const branch = s.tb.config.defaultBranch;
      const served = await servedCommit(s.tb, "prod");
      const before = await releases(s);
      await s.data.repo.commit(branch, what, changes);
      // Undone whatever the assertions find, so the next test deploys from a good commit.
      try {
        const { result, traffic } = await deployUnderTraffic(s, branch);
        const logs = jobLogs(result);
        expect(result.status, logs).toBe("failed");
        expect(logs).toMatch(says);
        // The failing step is in the last command the job ran (the Django steps run in one, `prepare`),
        // it is named in the tool's message, and no step after it ran.
        const last = releaseCommandsRan(logs, "prod").at(-1)!;
        expect(last[0] === step || (last[0] === "prepare" && last.includes(step)), `the last command was ${last.join(" ")}`).toBe(true);
        expect(logs).toMatch(new RegExp(`myproject-release: prod: ${step} failed`));
        const done = [...logs.matchAll(/myproject-release: prod: (\w+) done in/g)].map((m) => m[1]);
        expect(done).toEqual(last[0] === "prepare" ? last.slice(1, last.indexOf(step)) : []);
        expect(logs).toMatch(/removed the half-made release \S+ \(\w+ failed\); \S+ is live/);
        expect(await releases(s)).toBe(before);
        expectNoFailedRequests(traffic, "prod", "the deploy");
        expect(traffic.commits).toEqual([served]);
      } finally {
        await s.data.repo.git("revert", "--no-edit", "HEAD");
      }
    });
  }

  onTestbed(shared, "two deploys in a row while traffic runs: 0 failed requests, and each commit takes over in turn", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const served = await servedCommit(s.tb, "prod");
    const { value, traffic } = await s.data.withTraffic("prod", async () => {
      const a = await s.data.repo.commit(branch, "Third", { write: { "notes/templates/notes/extra.txt": "three\n" } });
      const { result: first } = await s.data.deploy({ branch });
      const b = await s.data.repo.commit(branch, "Fourth", { write: { "notes/templates/notes/extra.txt": "four\n" } });
      const { result: second } = await s.data.deploy({ branch });
      return { a, b, first, second };
    }, { ...SPEC_TRAFFIC, during: "two deploys in a row" });
    expect(value.first.status, jobLogs(value.first)).toBe("success");
    expect(value.second.status, jobLogs(value.second)).toBe("success");
    // Requirements unchanged: both reuse the venv they find, and neither builds one.
    for (const r of [value.first, value.second]) {
      expect(jobLogs(r)).toContain("myproject-release: prod: requirements unchanged, reusing venv");
      expect(jobLogs(r)).not.toContain("built venv");
    }
    expectNoFailedRequests(traffic, "prod", "two deploys in a row");
    expect(traffic.commits).toEqual([served, value.a, value.b]);
  });
});
