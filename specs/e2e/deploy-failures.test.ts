import { trafficLine } from "../../harness/probes/traffic.ts";
import { describe, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURE_DIR, fixtureRequirements, type FixtureChanges } from "../../harness/fixture.ts";
import { deployBranch } from "../../harness/pipeline/testbed-deploy.ts";
import { underTraffic } from "../../harness/probes/traffic.ts";
import { releaseCommandsRan } from "./checks.ts";
import { deployUnderTraffic, jobLogs, log, onTestbed, pipelineTestbed, servedCommit, SPEC_TRAFFIC } from "./support.ts";

const shared = pipelineTestbed();

const releases = (s: ReturnType<typeof shared>) => s.tb.app.exec.run(`ls ${s.tb.env("prod").releases}`).then((r) => r.stdout);
const venvs = (s: ReturnType<typeof shared>) => s.tb.app.exec.run(`ls ${s.tb.env("prod").venvs}`).then((r) => r.stdout);

const BROKEN: Array<[what: string, step: string, changes: FixtureChanges, says: RegExp]> = [
  ["an import error in the new code", "check", { write: { "notes/views.py": "import notes.no_such_module\n" } }, /ModuleNotFoundError: No module named 'notes\.no_such_module'/],
  ["a requirement pip cannot install", "venv", { write: { "requirements.txt": fixtureRequirements("ddt-no-such-package==9.9.9") } }, /No matching distribution found for ddt-no-such-package==9\.9\.9/],
  [
    "a STATIC_ROOT the deploy user cannot write",
    "collectstatic",
    { write: { "myproject/settings.py": `${readFileSync(join(FIXTURE_DIR, "myproject", "settings.py"), "utf8")}\nSTATIC_ROOT = "/root/static"\n` } },
    /PermissionError: \[Errno 13\] Permission denied: '\/root\/static'/,
  ],
  [
    // Production runs `check --deploy` and fails on its warnings (W018: DEBUG on).
    "DEBUG switched on in the settings",
    "check",
    { write: { "myproject/settings.py": `${readFileSync(join(FIXTURE_DIR, "myproject", "settings.py"), "utf8")}\nDEBUG = True\n` } },
    /\(security\.W018\) You should not have DEBUG set to True in deployment/,
  ],
];

describe("releases under traffic on prod: requirements, broken releases, deploys in a row", () => {
  onTestbed(shared, "a requirements change builds a new venv before the switch and leaves the running release's venv as it was", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const prod = s.tb.env("prod");
    const oldVenv = ((await s.tb.app.exec.run(`readlink ${prod.venv}`)).stdout).trim();
    const fingerprint = () => s.tb.app.exec.run(`cd ${prod.releases} && stat -c '%i %Y' ${`$(readlink -f ${prod.venv})`}/pyvenv.cfg && python3 -m pip --python ${prod.venv}/bin/python freeze`).then((r) => r.stdout);
    const before = { venvs: await venvs(s), old: await fingerprint() };

    const commit = await s.data.repo.commit(branch, "Pin sqlparse", { write: { "requirements.txt": fixtureRequirements("sqlparse>=0.5") } });
    const oldLive = ((await s.tb.app.exec.run(`readlink -f ${prod.dir}`)).stdout).trim();
    const second = await deployUnderTraffic(s, branch, "prod");
    expect(second.result.status, jobLogs(second.result)).toBe("success");
    expect(jobLogs(second.result)).toMatch(/built venv py\d+-[0-9a-f]{16} in/);
    expect(second.traffic.failed, `${trafficLine("prod", second.traffic)}: requests failed during the deploy`).toBe(0);
    expect(second.traffic.commits.at(-1)).toBe(commit);
    const newVenv = ((await s.tb.app.exec.run(`readlink ${prod.venv}`)).stdout).trim();
    expect(newVenv).not.toBe(oldVenv);
    expect((await venvs(s)).trim().split("\n")).toHaveLength(before.venvs.trim().split("\n").length + 1);
    // The previous release and its venv are untouched: same inode, same time, same packages.
    expect((await s.tb.app.exec.run(`cd ${prod.releases} && stat -c '%i %Y' $(readlink -f ${oldLive}/myprojectenv)/pyvenv.cfg && python3 -m pip --python ${oldLive}/myprojectenv/bin/python freeze`)).stdout).toBe(before.old);
  });

  for (const [what, step, changes, says] of BROKEN) {
    onTestbed(shared, `${what}: the job fails at "${step}" and says why; the half-made release is gone; the old commit serves with 0 failed requests`, async (s) => {
      const branch = s.tb.config.defaultBranch;
      const served = await servedCommit(s.tb, "prod");
      const before = await releases(s);
      await s.data.repo.commit(branch, what, changes);
      const { result, traffic } = await deployUnderTraffic(s, branch, "prod");
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
      expect(traffic.failed, `${trafficLine("prod", traffic)}: requests failed during the deploy`).toBe(0);
      expect(traffic.commits).toEqual([served]);
      await s.data.repo.git("revert", "--no-edit", "HEAD");
    });
  }

  onTestbed(shared, "two deploys in a row while traffic runs: 0 failed requests, and each commit takes over in turn", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const served = await servedCommit(s.tb, "prod");
    const { value, traffic } = await underTraffic(s.tb.url("prod"), "prod", log, async () => {
      const a = await s.data.repo.commit(branch, "Third", { write: { "notes/templates/notes/extra.txt": "three\n" } });
      const first = await deployBranch(s.data.target, s.data.repo, branch);
      const b = await s.data.repo.commit(branch, "Fourth", { write: { "notes/templates/notes/extra.txt": "four\n" } });
      const second = await deployBranch(s.data.target, s.data.repo, branch);
      return { a, b, first, second };
    }, { ...SPEC_TRAFFIC, during: "two deploys in a row" });
    expect(value.first.status, jobLogs(value.first)).toBe("success");
    expect(value.second.status, jobLogs(value.second)).toBe("success");
    // Requirements unchanged: both reuse the venv they find, and neither builds one.
    for (const r of [value.first, value.second]) {
      expect(jobLogs(r)).toContain("myproject-release: prod: requirements unchanged, reusing venv");
      expect(jobLogs(r)).not.toContain("built venv");
    }
    expect(traffic.failed, `${trafficLine("prod", traffic)}: requests failed during the deploy`).toBe(0);
    expect(traffic.commits).toEqual([served, value.a, value.b]);
  });
});
