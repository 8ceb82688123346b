import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { releaseSteps } from "../../harness/release/commands.ts";
import { gunicornCommands } from "../../harness/release/tool.ts";
import { ToolScratch } from "./scratch.ts";

// Each step of the release tool on the host's python3, with stand-ins for nginx, systemctl, sudo and
// Django (scratch.ts). Every test lays out the releases it needs itself.
let s: ToolScratch;
beforeAll(async () => {
  s = new ToolScratch();
  await s.startNginx();
});
afterAll(() => s.dispose());
beforeEach(() => {
  s.calls();
});

// The exact commands sudoers allows, as the tool's config carries them.
const RESTART = `sudo -n ${gunicornCommands("gunicorn@prod").restart.join(" ")}`;
const START = `sudo -n ${gunicornCommands("gunicorn@prod").start.join(" ")}`;

describe("switch", () => {
  it("makes the release live, restarts gunicorn with the command sudoers allows, and returns once it answers", async () => {
    const old = s.release();
    s.makeLive(old);
    const next = s.release({}, { ready: false });
    const r = await s.run("prod", "switch", next);
    expect(r.code, r.stderr).toBe(0);
    expect(s.liveRelease()).toBe(next);
    expect(existsSync(join(s.prod.releases, next, ".release-ready"))).toBe(true);
    expect(s.calls()).toEqual(["systemctl is-active --quiet gunicorn@prod", RESTART]);
    expect(r.stderr).toMatch(new RegExp(`prod: live ${old} -> ${next}, serving after \\d+\\.\\d s`));
  });

  it("switches back to the previous release, restarted, when the new one does not answer below 500 from itself; the new one is removed", async () => {
    const old = s.release();
    s.makeLive(old);
    const broken = s.release({ serves: 500 }, { ready: false });
    const r = await s.run("prod", "switch", broken);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`prod: ${broken} did not serve after the switch (500 from ${broken}); switched back to ${old}`);
    expect(s.liveRelease()).toBe(old);
    // Restarted twice: into the new release, then back into the old one (a relink alone would
    // leave gunicorn running the broken code).
    expect(s.calls().filter((c) => c.startsWith("sudo"))).toEqual([RESTART, RESTART]);
    expect(existsSync(join(s.prod.releases, broken))).toBe(false);
    expect(r.stderr).toMatch(/removed the half-made release \S+ \(switch failed\)/);
  });

  it("names the migrations the database lacks when the new release answers 500, in the switch's own message", async () => {
    const old = s.release();
    s.makeLive(old);
    const next = s.release({ serves: 500, unapplied: ["notes.0002_note_pinned"] }, { ready: false });
    const r = await s.run("prod", "switch", next);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`did not serve after the switch (500 from ${next}); the database lacks 1 unapplied migration(s) of this release: notes.0002_note_pinned (did migrate run before the switch?); switched back to ${old}`);
  });

  it("starts gunicorn instead when it is not running yet (the first deploy)", async () => {
    const first = s.release({}, { ready: false });
    const r = await s.run("prod", "switch", first, { FAKE_ACTIVE: "0" });
    expect(r.code, r.stderr).toBe(0);
    expect(s.calls()).toContain(START);
  });

  it("refuses a path that is not a release of the environment", async () => {
    const r = await s.run("prod", "switch", "/etc");
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining("/etc: not a release of prod") });
  });
});

describe("verify", () => {
  it("passes when GET / through nginx answers 200 from the live release", async () => {
    const live = s.release();
    s.makeLive(live);
    const r = await s.run("prod", "verify");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`prod: ${live} \\(c0ffee\\d\\d\\) serves / through nginx on port \\d+`));
  });

  it("fails on a 500, naming the migrations the database lacks", async () => {
    const live = s.release({ serves: 500, unapplied: ["notes.0003_note_author"] });
    s.makeLive(live);
    const r = await s.run("prod", "verify");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`did not answer below 500 from ${live}: 500 from ${live}; the database lacks 1 unapplied migration(s) of this release: notes.0003_note_author (did migrate run before the switch?)`);
  });

  it("fails on an answer from another release, and says nothing is live when nothing is", async () => {
    const live = s.release();
    const other = s.release();
    s.makeLive(live);
    const r = await s.run("prod", "verify", other);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`did not answer below 500 from ${other}: 200 from ${live}`);
    expect(r.stderr).not.toContain("the database lacks");
    const dev = await s.run("dev", "verify");
    expect(dev).toMatchObject({ code: 1, stderr: expect.stringContaining("dev: nothing is live yet") });
  });
});

describe("rollback", () => {
  it("switches to the release before the live one, restarting gunicorn", async () => {
    const before = s.release();
    const live = s.release();
    s.makeLive(live);
    const r = await s.run("prod", "rollback");
    expect(r.code, r.stderr).toBe(0);
    expect(s.liveRelease()).toBe(before);
    expect(s.calls()).toContain(RESTART);
  });

  it("goes to --to by release name or commit prefix, and does nothing when that one is live", async () => {
    const target = s.release({}, { commit: "abcdef12".padEnd(40, "1") });
    const live = s.release();
    s.makeLive(live);
    expect((await s.run("prod", "rollback", "--to", "ABCDEF1")).code).toBe(0);
    expect(s.liveRelease()).toBe(target);
    s.calls();
    const again = await s.run("prod", "rollback", "--to", target);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`prod: ${target} is already live`);
    expect(s.calls()).toEqual([]);
  });

  it("refuses a --to that is no release's or commit's name, as a shell would have run it", async () => {
    for (const to of ["x; touch pwned", "$(touch pwned)", "../../prod"]) {
      const r = await s.run("prod", "rollback", "--to", to);
      expect(r, to).toMatchObject({ code: 2, stderr: expect.stringContaining("not a release or a commit") });
    }
  });

  it("refuses with nothing older, or no match, listing what is kept", async () => {
    for (const n of readdirSync(s.prod.releases)) writeFileSync(join(s.prod.releases, n, ".fake.json"), "{}");
    const oldest = readdirSync(s.prod.releases).sort()[0]!;
    s.makeLive(oldest);
    const r = await s.run("prod", "rollback");
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining(`prod: no release before ${oldest} to roll back to; kept: `) });
    const none = await s.run("prod", "rollback", "--to", "deadbeef");
    expect(none).toMatchObject({ code: 2, stderr: expect.stringContaining('prod: no kept release matches "deadbeef"') });
    expect(s.liveRelease()).toBe(oldest);
  });

  it("stops past migrations the target lacks, listing them, unless --allow-migrations", async () => {
    const target = s.release({ missing: ["notes.0003_note_author", "notes.0004_note_tags"] });
    const live = s.release();
    s.makeLive(live);
    const r = await s.run("prod", "rollback");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`rollback to ${target} stopped: the database has migrations that release lacks:\n  notes.0003_note_author\n  notes.0004_note_tags`);
    expect(s.liveRelease()).toBe(live);
    expect((await s.run("prod", "rollback", "--allow-migrations")).code).toBe(0);
    expect(s.liveRelease()).toBe(target);
  });
});

describe("prepare", () => {
  it("names the Django step that failed (from its exit code), removes the release, and leaves the live one", async () => {
    const live = s.release();
    s.makeLive(live);
    const next = s.release({ fails: "migrate" }, { ready: false });
    const r = await s.run("prod", "prepare", next, "check", "collectstatic", "migrate");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/prod: check done in[\s\S]*prod: collectstatic done in/);
    expect(r.stderr).toContain(`prod: migrate failed: manage.py migrate raised the error above (in ${next})`);
    expect(r.stderr).toContain(`removed the half-made release ${next} (migrate failed); ${live} is live`);
    expect(existsSync(join(s.prod.releases, next))).toBe(false);
    expect(s.liveRelease()).toBe(live);
  });

  it("runs one Django step alone by its own name, and refuses a step the table lacks", async () => {
    const next = s.release({ fails: "collectstatic" }, { ready: false });
    const r = await s.run("prod", "collectstatic", next);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("prod: collectstatic failed: manage.py collectstatic raised the error above");
    const bad = await s.run("prod", "prepare", s.release(), "check", "makemigrations");
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining("invalid choice: 'makemigrations'") });
  });
});

describe("venv", () => {
  const requirements = (release: string, text: string) => writeFileSync(join(s.prod.releases, release, "requirements.txt"), text);
  const venvOf = (release: string) => readlinkSync(join(s.prod.releases, release, "myprojectenv"));
  const empty = () => join(s.root, "no-wheels");

  it("builds a venv once per requirements and Python, shares it between releases, and builds another when they change", async () => {
    const a = s.release({}, { ready: false });
    const b = s.release({}, { ready: false });
    const c = s.release({}, { ready: false });
    // gunicorn is named (so the tool adds none), for a Python that never comes: nothing to install.
    const none = 'gunicorn; python_version < "3"\n';
    requirements(a, none);
    requirements(b, none);
    requirements(c, `# something else\n${none}`);
    const built = await s.run("prod", "venv", a, "--no-index", "--find-links", empty());
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/prod: built venv py3\d+-[0-9a-f]{16} in/);
    const reused = await s.run("prod", "venv", b, "--no-index", "--find-links", empty());
    expect(reused.stderr).toMatch(/prod: requirements unchanged, reusing venv py3\d+-[0-9a-f]{16}/);
    expect(venvOf(b)).toBe(venvOf(a));
    expect(venvOf(a)).toMatch(/^\.\.\/\.\.\/venvs\/py3\d+-[0-9a-f]{16}$/);
    expect(existsSync(join(s.prod.releases, a, venvOf(a), ".complete"))).toBe(true);
    await s.run("prod", "venv", c, "--no-index", "--find-links", empty());
    expect(venvOf(c)).not.toBe(venvOf(a));
  });

  it("removes the release and the half-built venv when pip fails", async () => {
    const bad = s.release({}, { ready: false });
    requirements(bad, "ddt-no-such-package==9.9.9\n");
    const before = readdirSync(s.prod.venvs).sort();
    const r = await s.run("prod", "venv", bad, "--no-index", "--find-links", empty());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("prod: venv failed: pip install -r requirements.txt failed for");
    expect(existsSync(join(s.prod.releases, bad))).toBe(false);
    expect(readdirSync(s.prod.venvs).sort()).toEqual(before);
  });
});

describe("the step table in the config", () => {
  it("is what the tool accepts: a tool step it has no command for is refused, naming the config", async () => {
    const path = s.configPath;
    const config = JSON.parse(readFileSync(path, "utf8")) as { steps: Array<{ step: string; runs: string }> };
    expect(config.steps.map((x) => x.step)).toEqual(releaseSteps().map((x) => x.step));
    try {
      writeFileSync(path, JSON.stringify({ ...config, steps: [...config.steps, { step: "warm-cache", runs: "tool" }] }));
      const r = await s.run("prod", "list");
      expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining(`${path}: steps warm-cache have no command in this tool`) });
      writeFileSync(path, JSON.stringify({ ...config, steps: undefined }));
      expect((await s.run("prod", "list")).stderr).toContain("has no `steps` table; the recipe writes it");
    } finally {
      writeFileSync(path, JSON.stringify(config));
    }
  });
});
