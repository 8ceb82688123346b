import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import { describe, expect } from "vitest";
import type { FixtureChanges } from "../../harness/domain/fixtures.ts";
import { addRequirement, addStaticFile, appendToSettings, combine, sqlMigration, touchFile } from "../../harness/project/changes.ts";
import type { DjangoProject } from "../../harness/project/detect.ts";
import type { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { fileInfo } from "../../harness/probes/file-info.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { appliedMigrations } from "../../harness/probes/postgres.ts";
import { trafficLine, type TrafficReport } from "../../harness/probes/traffic.ts";
import { sh } from "../../harness/shell/quote.ts";
import { dbPassword } from "../../harness/recipe/secrets.ts";
import { releaseToolName, releaseToolPath } from "../../harness/release/tool.ts";
import { RELEASES_KEPT } from "../../harness/domain/envs.ts";
import { expectNoKeyIn, readMarker, releaseCommandsRan, staticFilesToFetch, writeMarker } from "./checks.ts";
import { deployUnderTraffic, withCommit, expectNoFailedRequests, jobLogs, onTestbed, pipelineTestbed, servedCommit, SPEC_TRAFFIC, type Shared } from "./support.ts";

// Every deploy of this file goes to prod, under traffic, on one testbed. Each test makes the state
// it needs (its own commits, its own data) and reads nothing another test left, so any one passes
// alone and in any order. The changes are computed from the project model (its settings file, an
// app with migrations, its STATIC_URL), never from the sample's own pages or models.
const shared = pipelineTestbed();
type S = Shared<PipelineDeployment>;

const releases = (s: S) => s.tb.app.exec.run(sh`ls ${s.tb.env("prod").releases}`).then((r) => r.stdout);
/** prod's releases as the release tool lists them: each name with its status (live, ready, bad, unfinished). */
const listed = async (s: S) =>
  (await s.tb.app.exec.run(sh`${releaseToolPath(s.tb.config)} prod list`, { as: s.tb.env("prod").user })).stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [name, , status] = line.split(/\s+/);
      return { name: name!, status: status! };
    });
const venvs = (s: S) => s.tb.app.exec.run(sh`ls ${s.tb.env("prod").venvs}`).then((r) => r.stdout);
const served = (s: S) => servedCommit(s.tb, "prod", s.data.project.health);
const tool = (s: S) => releaseToolName(s.tb.config);
const BADGE = `<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#2a9d8f"/></svg>\n`;

/** No request failed, and the commits answered in exactly this order (no old answer after the new). */
function expectSeamless(traffic: TrafficReport, commits: string[]): void {
  expectNoFailedRequests(traffic, "prod", "the deploy", 20);
  expect(traffic.commits, trafficLine("prod", traffic)).toEqual(commits);
}

/** Commits a change on the default branch and deploys it without traffic (a test's own starting point). */
async function deployed(s: S, message: string, changes: FixtureChanges): Promise<string> {
  const commit = await s.data.repo.commit(s.tb.config.defaultBranch, message, changes);
  const { result } = await s.data.deploy({ branch: s.tb.config.defaultBranch });
  expect(result.status, jobLogs(result)).toBe("success");
  return commit;
}

describe("deploys and rollbacks through the pipeline, under traffic on prod", () => {
  onTestbed(shared, "a code change: a new release with a new static file, the database's rows kept; 0 failed requests", async (s) => {
    const { tb, data } = s;
    const prod = tb.env("prod");
    const before = await served(s);
    const marker = `written before the deploy ${Date.now()}`;
    await writeMarker(tb, "prod", marker);
    const beforeList = await listed(s);
    const good = beforeList.filter((r) => r.status === "live" || r.status === "ready").map((r) => r.name);
    const previous = beforeList.find((r) => r.status === "live")!.name;
    const shipped = (await staticFilesToFetch(tb, "prod", data.repo.dir, data.project.staticUrl)).find((f) => f.shipped);
    if (!shipped) throw new Error(`${data.repo.dir}: the project ships no static file of its own to put a new one beside`);
    const badge = addStaticFile({ path: shipped.what, url: shipped.url }, `badge-${Date.now()}.svg`, BADGE);
    const commit = await data.repo.commit(tb.config.defaultBranch, "A new release", combine(badge.changes, touchFile("release.txt", `${Date.now()}\n`)));
    const deploy = await deployUnderTraffic(s, tb.config.defaultBranch);
    const logs = jobLogs(deploy.result);
    expect(deploy.result.status, logs).toBe("success");
    expectNoKeyIn(logs, data.keyFor("prod").private);
    expectSeamless(deploy.traffic, [before, commit]);

    expect((await httpGet(tb.url("prod", badge.url))).text).toBe(BADGE);
    expect(await readMarker(tb, "prod", marker)).toHaveLength(1);
    // The live path is a link to the newest release. Kept for rollbacks: the newest good releases
    // (RELEASES_KEPT with the new one) and the one live before it; a release that failed or was
    // rolled back from (another test's, in some orders) is pruned first.
    const live = (await tb.app.exec.run(sh`readlink ${prod.dir}`)).stdout.trim();
    const now = (await releases(s)).trim().split("\n");
    expect(live).toBe(`releases/${now.at(-1)}`);
    expect(now, `before the deploy: ${beforeList.map((r) => `${r.name} ${r.status}`).join(", ")}`).toEqual([...new Set([...[...good, basename(live)].slice(-RELEASES_KEPT), previous])].sort());
    expect(live).toMatch(new RegExp(`-${commit.slice(0, 8)}$`));
  });

  onTestbed(shared, "the manual rollback job switches back to the previous release with 0 failed requests; uploads, logs and the environment file outlive it", async (s) => {
    const { tb, data } = s;
    const prod = tb.env("prod");
    // Its own release to roll back to, from the branch as it is: what serves now may be one another
    // test rolled back to, which lacks a migration that test applied (the rollback would stop there).
    const first = await deployed(s, "A release to roll back to", touchFile("rollback-to.txt", `${Date.now()}\n`));
    // What lives on the server only: an upload (where an upload view saves it), a log, the settings.
    const upload = { name: `testbed-${Date.now()}.png`, bytes: randomBytes(3000) };
    await tb.app.exec.run(sh`base64 -d > ${`${prod.media}/${upload.name}`}`, { as: prod.user, stdin: upload.bytes.toString("base64") });
    const log = `server-only log line ${Date.now()}\n`;
    await tb.app.exec.run(sh`install -d ${`${prod.shared}/logs`} && printf %s ${log} > ${`${prod.shared}/logs/app.log`}`, { as: prod.user });
    const envFileSha = (await fileInfo(tb.app, prod.envFile)).sha256;

    const second = await deployed(s, "A release to roll back", touchFile("rollback.txt", `${Date.now()}\n`));
    const rollback = await deployUnderTraffic(s, tb.config.defaultBranch, { jobs: ["rollback-production"] });
    expect(rollback.result.status, jobLogs(rollback.result)).toBe("success");
    expect(rollback.result.jobs.map((j) => j.name)).toEqual(["rollback-production"]);
    expectSeamless(rollback.traffic, [second, first]);

    const media = await httpGet(tb.url("prod", `${data.project.mediaUrl}${upload.name}`));
    expect(media.status, `the upload, made before the deploy and the rollback, answers ${media.status} after them`).toBe(200);
    expect(media.body.equals(upload.bytes), "the upload changed").toBe(true);
    expect((await tb.app.exec.run(sh`cat ${`${prod.shared}/logs/app.log`}`)).stdout).toBe(log);
    expect((await fileInfo(tb.app, prod.envFile)).sha256).toBe(envFileSha);
    // Each kept release links to the same uploads (beside manage.py); none holds its own.
    const links = await tb.app.exec.run(sh`cd ${prod.releases} && for r in */; do readlink -f "$r"${data.project.appDir ? `/${data.project.appDir}` : ""}/media; done | sort -u`);
    expect(links.stdout.trim()).toBe(prod.media);
  });

  onTestbed(shared, "an additive migration keeps the rows written before it; a rollback past it stops and lists it unless allowed", async (s) => {
    const { tb, data } = s;
    const branch = tb.config.defaultBranch;
    const previous = await served(s);
    const marker = `written before the migration ${Date.now()}`;
    await writeMarker(tb, "prod", marker);
    const migration = sqlMigration(data.repo.dir, data.project, "testbed_author", "ALTER TABLE testbed_marker ADD COLUMN author varchar(80) NOT NULL DEFAULT ''", "ALTER TABLE testbed_marker DROP COLUMN author");
    const commit = await data.repo.commit(branch, "Markers get an author", migration.changes);
    const deploy = await deployUnderTraffic(s, branch);
    expect(deploy.result.status, jobLogs(deploy.result)).toBe("success");
    expectSeamless(deploy.traffic, [previous, commit]);
    expect(await appliedMigrations(tb, tb.env("prod"), dbPassword(tb, "prod"))).toContain(migration.name);
    expect((await readMarker(tb, "prod", marker)).map((r) => r.author)).toEqual([""]);

    // The previous release lacks the migration: the rollback stops, names it, and changes nothing.
    const refused = await deployUnderTraffic(s, branch, { jobs: ["rollback-production"] });
    const logs = jobLogs(refused.result);
    expect(refused.result.status, `a rollback past migration ${migration.name} went ahead without --allow-migrations:\n${logs}`).toBe("failed");
    expect(logs).toMatch(new RegExp(`rollback to \\S+ stopped: the database has migrations that release lacks:\\n\\s+${migration.name.replace(".", "\\.")}\\n`));
    expect(logs).toContain("roll back with --allow-migrations");
    expectSeamless(refused.traffic, [commit]);

    const allowed = await deployUnderTraffic(s, branch, { jobs: ["rollback-production"], variables: { ROLLBACK_TO: previous.slice(0, 8), ROLLBACK_ALLOW_MIGRATIONS: "1" } });
    expect(allowed.result.status, jobLogs(allowed.result)).toBe("success");
    expectSeamless(allowed.traffic, [commit, previous]);
  });
});

/** Broken releases, each a change any Django project can be given, with the step it must fail at and its words. */
const BROKEN: Array<[what: string, step: string, change: (dir: string, p: DjangoProject) => FixtureChanges, says: RegExp]> = [
  ["an import error in the new code", "check", (d, p) => appendToSettings(d, p, "import testbed_no_such_module"), /ModuleNotFoundError: No module named 'testbed_no_such_module'/],
  ["a requirement pip cannot install", "venv", (d, p) => addRequirement(d, p, "ddt-no-such-package==9.9.9"), /No matching distribution found for ddt-no-such-package==9\.9\.9/],
  [
    "a STATIC_ROOT outside the release (where the deploy user cannot write either)",
    "collectstatic",
    (d, p) => appendToSettings(d, p, `STATIC_ROOT = "/root/static"`),
    /STATIC_ROOT is \/root\/static, outside the release \S+; each release needs its own/,
  ],
  // Production's check judges the settings as preflight does (release_settings.py): DEBUG on fails it (W018).
  ["DEBUG switched on in the settings", "check", (d, p) => appendToSettings(d, p, "DEBUG = True"), /the settings cannot serve a production environment: DEBUG is on, whatever DJANGO_DEBUG says, in a production environment: .*\(check --deploy: security\.W018\)/],
];

describe("releases under traffic on prod: requirements, broken releases, deploys in a row", () => {
  onTestbed(shared, "a requirements change builds a new venv before the switch and leaves the running release's venv as it was", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const prod = s.tb.env("prod");
    const oldVenv = (await s.tb.app.exec.run(sh`readlink ${prod.venv}`)).stdout.trim();
    // A venv, through a release's link to it: its config file's inode and time, and its packages.
    const fingerprint = (link: string) => s.tb.app.exec.run(sh`cd ${prod.releases} && stat -c '%i %Y' "$(readlink -f ${link})/pyvenv.cfg" && python3 -m pip --python ${link}/bin/python freeze`).then((r) => r.stdout);
    const before = { venvs: await venvs(s), old: await fingerprint(prod.venv) };

    // sqlparse is Django's own dependency: in any project's wheelhouse, and a new requirements file.
    const commit = await s.data.repo.commit(branch, "Pin sqlparse", addRequirement(s.data.repo.dir, s.data.project, `sqlparse>=0.5 # ${Date.now()}`));
    const oldLive = (await s.tb.app.exec.run(sh`readlink -f ${prod.dir}`)).stdout.trim();
    const second = await deployUnderTraffic(s, branch);
    expect(second.result.status, jobLogs(second.result)).toBe("success");
    expect(jobLogs(second.result)).toMatch(/built venv py\d+-[0-9a-f]{16} in/);
    expectNoFailedRequests(second.traffic, "prod", "the deploy");
    expect(second.traffic.commits.at(-1)).toBe(commit);
    const newVenv = (await s.tb.app.exec.run(sh`readlink ${prod.venv}`)).stdout.trim();
    expect(newVenv).not.toBe(oldVenv);
    expect((await venvs(s)).trim().split("\n")).toHaveLength(before.venvs.trim().split("\n").length + 1);
    // The previous release and its venv are untouched: same inode, same time, same packages.
    expect(await fingerprint(`${oldLive}/${basename(prod.venv)}`)).toBe(before.old);
  });

  for (const [what, step, change, says] of BROKEN) {
    onTestbed(shared, `${what}: the job fails at "${step}" and says why; the half-made release is gone; the old commit serves with 0 failed requests`, async (s) => {
      const branch = s.tb.config.defaultBranch;
      const old = await served(s);
      const before = await releases(s);
      await withCommit(s, branch, what, change(s.data.repo.dir, s.data.project), async () => {
        const { result, traffic } = await deployUnderTraffic(s, branch);
        const logs = jobLogs(result);
        expect(result.status, logs).toBe("failed");
        expect(logs).toMatch(says);
        // The failing step is in the last command the job ran (the Django steps run in one, `prepare`),
        // it is named in the tool's message, and no step after it ran.
        const last = releaseCommandsRan(logs, "prod", tool(s)).at(-1)!;
        expect(last[0] === step || (last[0] === "prepare" && last.includes(step)), `the last command was ${last.join(" ")}`).toBe(true);
        expect(logs).toContain(`${tool(s)}: prod: ${step} failed`);
        const done = [...logs.matchAll(new RegExp(`${tool(s)}: prod: (\\w+) done in`, "g"))].map((m) => m[1]);
        expect(done).toEqual(last[0] === "prepare" ? last.slice(1, last.indexOf(step)) : []);
        expect(logs).toMatch(/removed the half-made release \S+ \(\w+ failed\); \S+ is live/);
        expect(await releases(s)).toBe(before);
        expectNoFailedRequests(traffic, "prod", "the deploy");
        expect(traffic.commits).toEqual([old]);
      });
    });
  }

  onTestbed(shared, "two deploys in a row while traffic runs: 0 failed requests, each commit takes over in turn, and a removed file is gone", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const prod = s.tb.env("prod");
    const old = await served(s);
    const extra = `extra-${Date.now()}.txt`;
    const { value, traffic } = await s.data.withTraffic("prod", async () => {
      const a = await s.data.repo.commit(branch, "Third", touchFile(extra, "three\n"));
      const { result: first } = await s.data.deploy({ branch });
      const b = await s.data.repo.commit(branch, "Fourth", { remove: [`testbed-changes/${extra}`] });
      const { result: second } = await s.data.deploy({ branch });
      return { a, b, first, second };
    }, { ...SPEC_TRAFFIC, during: "two deploys in a row" });
    expect(value.first.status, jobLogs(value.first)).toBe("success");
    expect(value.second.status, jobLogs(value.second)).toBe("success");
    // Requirements unchanged: both reuse the venv they find, and neither builds one.
    for (const r of [value.first, value.second]) {
      expect(jobLogs(r)).toContain(`${tool(s)}: prod: requirements unchanged, reusing venv`);
      expect(jobLogs(r)).not.toContain("built venv");
    }
    expectNoFailedRequests(traffic, "prod", "two deploys in a row");
    expect(traffic.commits).toEqual([old, value.a, value.b]);
    expect((await s.tb.app.exec.run(sh`test -e ${`${prod.dir}/testbed-changes/${extra}`} && echo present || echo gone`)).stdout).toBe("gone\n");
  });
});
