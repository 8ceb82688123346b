import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PYTHON, ToolScratch } from "./scratch.ts";

// The release tool's safety under concurrency and kills (release_state.py), on the host's python3
// with the stand-ins of scratch.ts: a scratch of its own per test, so that no history, hold or
// release of one test is seen by another.
let s: ToolScratch;
beforeEach(async () => {
  s = new ToolScratch();
  await s.startNginx();
});
afterEach(() => s.dispose());

const root = () => join(s.prod.releases, "..");
const ready = (release: string) => existsSync(join(s.prod.releases, release, ".release-ready"));
const history = () => (existsSync(join(root(), ".release-history.jsonl")) ? readFileSync(join(root(), ".release-history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { event: string; release: string }) : []);
const holder = () => (existsSync(join(root(), ".release-deploy.json")) ? (JSON.parse(readFileSync(join(root(), ".release-deploy.json"), "utf8")) as { release: string }).release : undefined);
/** A process working on a release (its activity lock held) until killed: a deploy's step in progress. */
async function working(release: string, seconds = 10) {
  const step = spawn(PYTHON, ["-c", `import fcntl,os,time; fd=os.open(${JSON.stringify(join(release, ".release-active"))}, os.O_RDWR|os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print("held", flush=True); time.sleep(${seconds})`]);
  await new Promise((r) => step.stdout.once("data", r));
  return step;
}

/** A release through the tool's own switch, as a deploy makes it live: it served, so it is ready. */
async function deployed(fake = {}): Promise<string> {
  const r = s.release(fake, { ready: false });
  const out = await s.run("prod", "switch", r);
  expect(out.code, out.stderr).toBe(0);
  return r;
}

describe("a release counts as ready only once it has served", () => {
  it("switch marks it ready after the new release answered, and records it in the history", async () => {
    const first = await deployed();
    const next = await deployed();
    expect(ready(next)).toBe(true);
    expect(history().map((e) => [e.event, e.release])).toEqual([["live", first], ["live", next]]);
  });

  it("a release that does not serve is never marked ready, is recorded as failed, and the previous one is back", async () => {
    const old = await deployed();
    const broken = s.release({ serves: 500 }, { ready: false });
    const r = await s.run("prod", "switch", broken);
    expect(r.code).toBe(1);
    expect(s.liveRelease()).toBe(old);
    expect(history().at(-1)).toMatchObject({ event: "failed", release: broken });
  });

  it("switch refuses a release that did not complete every step before it, naming them", async () => {
    await deployed();
    s.calls();
    const half = s.release({}, { ready: false, prepared: false });
    const r = await s.run("prod", "switch", half);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`prod: ${half} is not fully prepared: venv, check, collectstatic, migrate did not complete`);
    expect(s.calls().filter((c) => c.startsWith("sudo"))).toEqual([]);
  });

  it("a first deploy that does not serve leaves nothing live, and says so", async () => {
    const broken = s.release({ serves: 500 }, { ready: false });
    const r = await s.run("prod", "switch", broken, { FAKE_ACTIVE: "0" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nothing is live in prod (this was its first deploy)");
    expect(existsSync(s.prod.dir)).toBe(false);
  });

  it("a failed switch after migrate keeps the release the database now needs, marked bad, and says the database is ahead", async () => {
    const old = await deployed({ missing: ["notes.0003_author"] });
    const next = s.release({ serves: 500 }, { ready: false });
    const r = await s.run("prod", "switch", next);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`prod: the database is ahead of ${old}: it has notes.0003_author from ${next}, which is kept (marked bad)`);
    expect(existsSync(join(s.prod.releases, next))).toBe(true);
    expect((await s.run("prod", "list")).stdout).toContain(`${next}  `);
    expect((await s.run("prod", "list")).stdout).toMatch(new RegExp(`${next} +\\w+ +bad`));
  });
});

describe("rollback follows the history", () => {
  it("deploy R6 (bad), roll back to R5, deploy R7, roll back: R5 again, never R6", async () => {
    const r5 = await deployed();
    const r6 = await deployed();
    expect((await s.run("prod", "rollback")).code).toBe(0);
    expect(s.liveRelease()).toBe(r5);
    const r7 = await deployed();
    const r = await s.run("prod", "rollback");
    expect(r.code, r.stderr).toBe(0);
    expect(s.liveRelease()).toBe(r5);
    expect(history().map((e) => `${e.event} ${e.release}`)).toEqual([`live ${r5}`, `live ${r6}`, `live ${r5}`, `rolled-back-from ${r6}`, `live ${r7}`, `live ${r5}`, `rolled-back-from ${r7}`]);
  });

  it("pruning keeps the live release and the rollback target, and drops bad releases first", async () => {
    const target = await deployed();
    const bad = await deployed();
    await s.run("prod", "rollback");
    // Six more good releases: more than the five kept.
    const later: string[] = [];
    for (let i = 0; i < 6; i++) later.push(await deployed());
    const kept = (await s.run("prod", "list")).stdout;
    expect(kept).not.toContain(bad);
    expect(kept).not.toContain(target);
    for (const r of later.slice(-5)) expect(kept).toContain(r);
    // The rollback target of the live one is always kept, however old.
    const r = await s.run("prod", "rollback");
    expect(r.code, r.stderr).toBe(0);
    expect(s.liveRelease()).toBe(later.at(-2));
  });
});

describe("one deploy at a time, and what a killed one leaves", () => {
  it("`new` waits while another deploy's step runs, and goes on once that deploy has verified", async () => {
    const first = (await s.run("prod", "new", "a".repeat(40))).stdout.trim();
    expect(holder()).toBe(first.split("/").at(-1));
    // A step of the first deploy still running: its process holds the release's activity lock.
    const step = spawn(PYTHON, ["-c", `import fcntl,os,time; fd=os.open(${JSON.stringify(join(first, ".release-active"))}, os.O_RDWR|os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print("held", flush=True); time.sleep(1.5)`]);
    await new Promise((r) => step.stdout.once("data", r));
    const started = Date.now();
    const second = await s.run("prod", "new", "b".repeat(40));
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`prod: a deploy waits for the deploy of ${first.split("/").at(-1)}`);
    expect(Date.now() - started).toBeGreaterThan(1000);
    step.kill();
  });

  it("`new` waits a bounded time for a deploy that goes on working, then fails naming it: its release, commit, pid and since when", async () => {
    s.writeConfig(s.nginxPort, 0.6, { lockWaitSeconds: 0.5 });
    const first = (await s.run("prod", "new", "a".repeat(40))).stdout.trim();
    const name = first.split("/").at(-1)!;
    const step = spawn(PYTHON, ["-c", `import fcntl,os,time; fd=os.open(${JSON.stringify(join(first, ".release-active"))}, os.O_RDWR|os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print("held", flush=True); time.sleep(5)`]);
    await new Promise((r) => step.stdout.once("data", r));
    try {
      const second = await s.run("prod", "new", "b".repeat(40));
      expect(second.code).toBe(5);
      expect(second.stderr).toMatch(new RegExp(`prod: a deploy waited 0 s for the deploy of ${name} \\(commit aaaaaaaa, pid \\d+, holding since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\), which still holds the environment`));
    } finally {
      step.kill();
    }
  });

  it("a deploy abandoned by a killed job is taken over: its unfinished release removed, the hold moved", async () => {
    await deployed();
    const killed = (await s.run("prod", "new", "a".repeat(40))).stdout.trim();
    // Nothing ran on it since, for longer than the grace period.
    utimesSync(join(killed, ".release.json"), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const next = await s.run("prod", "new", "b".repeat(40));
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`the deploy of ${killed.split("/").at(-1)} was abandoned`);
    expect(existsSync(killed)).toBe(false);
    expect(holder()).toBe(next.stdout.trim().split("/").at(-1));
  });

  it("a step of a release that lost its hold to a newer deploy is refused", async () => {
    await deployed();
    const old = (await s.run("prod", "new", "a".repeat(40))).stdout.trim();
    const newer = s.release({}, { ready: false });
    writeFileSync(join(root(), ".release-deploy.json"), JSON.stringify({ release: newer }));
    const step = await working(join(s.prod.releases, newer));
    const r = await s.run("prod", "switch", old.split("/").at(-1)!);
    step.kill();
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`is not the release being deployed (${newer} holds the environment)`);
  });

  it("a switch killed after the link moved: the next deploy completes it when the release serves, or goes back when it does not", async () => {
    const old = await deployed();
    const serving = s.release({}, { ready: false });
    s.makeLive(serving);
    expect((await s.run("prod", "new", "c".repeat(40))).code).toBe(0);
    expect(ready(serving)).toBe(true);
    expect(s.liveRelease()).toBe(serving);

    rmSync(join(root(), ".release-deploy.json"));
    const broken = s.release({ serves: 500 }, { ready: false });
    s.makeLive(broken);
    s.calls();
    const r = await s.run("prod", "new", "d".repeat(40));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${broken} went live in a deploy that was stopped, and does not serve: back to ${serving}`);
    expect(s.liveRelease()).toBe(serving);
    expect(s.calls().filter((c) => c.startsWith("sudo"))).toHaveLength(1);
    expect(old).not.toBe(serving);
  });

  it("stops at a crash point the specs name, saying where and which process group to kill", async () => {
    writeFileSync(join(root(), ".release-crash-point"), "new:after-release");
    const child = spawn(PYTHON, [s.tool, "prod", "new", "e".repeat(40)], { env: { ...process.env, RELEASE_TOOL_CONFIG: s.configPath, RELEASE_TOOL_LIB: s.lib, FAKE_LOG: join(s.root, "calls.log"), PATH: `${s.fakeBin}:${process.env.PATH}` } });
    const reached = join(root(), ".release-crash-point.reached");
    for (let i = 0; i < 100 && !existsSync(reached); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(reached, "utf8")).toMatch(new RegExp(`^new:after-release ${child.pid} \\d+\\n$`));
    child.kill("SIGKILL");
  });
});
