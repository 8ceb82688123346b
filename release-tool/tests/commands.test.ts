import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ToolScratch } from "./scratch.ts";

// The release tool's other commands and paths, on the host's python3 with scratch.ts's stand-ins:
// facts, the checklist, help, names made twice in a second, the requirements it reads, and steps
// that complete.
let s: ToolScratch;
beforeAll(async () => {
  s = new ToolScratch();
  await s.startNginx();
});
afterAll(() => s.dispose());
// Each test starts with no deploy holding the environment.
beforeEach(() => rmSync(join(s.prod.releases, "..", ".release-deploy.json"), { force: true }));

describe("the release tool's commands", () => {
  it("facts: the live release, its commit, whether it is ready, and its Django's facts, or why there are none", async () => {
    const live = s.release();
    s.makeLive(live);
    const facts = JSON.parse((await s.run("prod", "facts")).stdout) as Record<string, unknown>;
    expect(facts).toMatchObject({ environment: "prod", live, ready: true, django: { vendor: "postgresql", database: "u_prod" } });
    const broken = s.release({ factsFail: true } as never);
    s.makeLive(broken);
    const failing = JSON.parse((await s.run("prod", "facts")).stdout) as { django: { error: string } };
    expect(failing.django.error).toMatch(/^manage\.py shell [^]* exited 1 in /);
  });

  it("checklist: every check of the config's checklist, as a table, --json or --junit; exit 1 when one fails", async () => {
    const live = s.release();
    s.makeLive(live);
    const json = await s.run("prod", "checklist", "--json");
    const report = JSON.parse(json.stdout) as { live: string; results: Array<{ id: string; status: string; seen: string }> };
    expect(report.live).toBe(live);
    expect(report.results.map((r) => r.id)).toEqual(["unit-active", "workers", "socket-listening", "socket-owner", "live-release-complete", "env-file-private", "database-own", "migrations-applied", "debug-off", "sudo-scoped", "other-envs-closed", "nginx-port", "health", "static-bytes"]);
    // The stand-ins are no server: no socket, no sudo rules; the evaluation still names each.
    expect(json.code).toBe(1);
    expect(report.results.find((r) => r.id === "socket-listening")!.seen).toMatch(/not a socket|No such file/);
    const junit = await s.run("prod", "checklist", "--junit");
    expect(junit.stdout).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuite name="verify prod" tests="14" failures="\d+" skipped="\d+">/);
    const table = await s.run("prod", "checklist");
    expect(table.stdout).toMatch(/^prod: live \S+ \(c0ffee\w+\)\n {2}(ok  |FAIL) unit-active: gunicorn@prod is active and running\n/);
    expect(table.stdout).toMatch(/prod: \d+ of 14 checks failed\n$/);
  });

  it("help: the module's own words with -h, and the usage error (exit 2) with nothing", async () => {
    const help = await s.run("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Releases of one Django project on this server");
    expect((await s.run()).code).toBe(2);
  });

  it("new: a second release of one commit in the same second gets its own name", async () => {
    // Every second from one before to a minute after already has a release of this commit, so
    // whichever second `new` runs in (however loaded the machine), its plain name is taken.
    const stamp = (t: number) => new Date(t).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    const now = Date.now();
    const taken = Array.from({ length: 62 }, (_, i) => join(s.prod.releases, `${stamp(now + (i - 1) * 1000)}-ffffffff`));
    for (const dir of taken) {
      mkdirSync(dir);
      writeFileSync(join(dir, ".release-ready"), "");
    }
    try {
      const made = (await s.run("prod", "new", "f".repeat(40))).stdout.trim();
      expect(made).toMatch(/\/\d{8}T\d{6}Z-ffffffff\.1$/);
      expect(taken).toContain(made.replace(/\.1$/, ""));
      rmSync(made, { recursive: true, force: true });
    } finally {
      for (const dir of taken) rmSync(dir, { recursive: true, force: true });
    }
  });

  it("prepare and a single Django step record what completed, and switch then takes the release", async () => {
    const live = s.release();
    s.makeLive(live);
    const r = s.release({}, { ready: false, prepared: false });
    expect((await s.run("prod", "prepare", r, "check", "collectstatic")).code).toBe(0);
    expect((await s.run("prod", "migrate", r)).code).toBe(0);
    const done = (JSON.parse(readFileSync(join(s.prod.releases, r, ".release.json"), "utf8")) as { done: string[] }).done;
    expect(done).toEqual(["check", "collectstatic", "migrate"]);
    const refused = await s.run("prod", "switch", r);
    expect(refused.stderr).toContain("venv did not complete");
  });

  it("venv: names a missing requirements file, and reads pyproject.toml's dependencies (gunicorn added)", async () => {
    const r = s.release({}, { ready: false });
    const missing = await s.run("prod", "venv", r, "--no-index");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`${r}: has no requirements.txt (the project's requirements, from the recipe's config)`);
    expect(existsSync(join(s.prod.releases, r))).toBe(false);
    const config = JSON.parse(readFileSync(s.configPath, "utf8")) as { projectFacts: { requirements: string } };
    config.projectFacts.requirements = "pyproject.toml";
    writeFileSync(s.configPath, JSON.stringify(config));
    try {
      const p = s.release({}, { ready: false });
      writeFileSync(join(s.prod.releases, p, "pyproject.toml"), '[project]\nname = "x"\ndependencies = ["ddt-not-on-any-index==1"]\n');
      mkdirSync(join(s.root, "empty-index"), { recursive: true });
      const r2 = await s.run("prod", "venv", p, "--no-index", "--find-links", join(s.root, "empty-index"));
      expect(r2.code).toBe(1);
      expect(r2.stderr).toMatch(/ddt-not-on-any-index==1/);
      expect(r2.stderr).toContain("pip install -r pyproject.toml failed");
    } finally {
      s.writeConfig(s.nginxPort);
    }
  });
});
