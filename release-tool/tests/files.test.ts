import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RELEASES_KEPT } from "../../harness/domain/envs.ts";
import { sampleProjectDir } from "../../harness/domain/fixtures.ts";
import { loadProject } from "../../harness/project/detect.ts";
import { envFile } from "../../harness/recipe/env-file.ts";
import { PYTHON, ToolScratch } from "./scratch.ts";

// The release tool runs on the server's python3; its file-level behaviour is checked here on the
// host's python3, in a scratch home laid out as the environment table says.
const s = new ToolScratch();
afterAll(() => s.dispose());
const { envs, prod, root } = { envs: s.envs, prod: s.prod, root: s.root };
const run = (...args: string[]) => s.run(...args);

/** Calls the library's own functions (`t`), for what needs no Django and no systemd. */
function python(code: string): string {
  const prelude = `import json, os, sys\nsys.path.insert(0, ${JSON.stringify(s.lib)})\nimport release_environment as t\nenv = t.Environment(json.load(open(${JSON.stringify(s.configPath)})), "prod")\n`;
  return execFileSync(PYTHON, ["-c", prelude + code], { encoding: "utf8" });
}

describe("the release tool", () => {
  it("makes a new, empty release named by time and commit, with its metadata", async () => {
    const r = await run("prod", "new", "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0");
    expect(r.code, r.stderr).toBe(0);
    const path = r.stdout.trim();
    expect(path).toMatch(new RegExp(`^${prod.releases}/\\d{8}T\\d{6}Z-a1b2c3d4$`));
    expect(JSON.parse(readFileSync(join(path, ".release.json"), "utf8"))).toMatchObject({ commit: "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0", environment: "prod" });
    // Uploads are the environment's, shared by every release.
    expect(readlinkSync(join(path, "media"))).toBe("../../shared/media");
    // stdout is the path alone (the job captures it); messages go to stderr.
    expect(r.stdout).toBe(`${path}\n`);
    // A second release of the same commit in the same second gets its own directory (the first is
    // ready, so `new` does not clean it away as unfinished).
    writeFileSync(join(path, ".release-ready"), "");
    const again = await run("prod", "new", "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0");
    expect(again.stdout.trim()).not.toBe(path);
    expect(existsSync(join(path, ".release.json"))).toBe(true);
  });

  it("refuses a bad commit, an unknown environment and a path outside the releases, naming each", async () => {
    expect(await run("prod", "new", "$(reboot)")).toMatchObject({ code: 2, stderr: expect.stringContaining('commit "$(reboot)": expected a hex commit id') });
    expect(await run("qa", "list")).toMatchObject({ code: 2, stderr: expect.stringContaining('environment "qa": unknown') });
    expect(await run("prod", "migrate", "/etc")).toMatchObject({ code: 2, stderr: expect.stringContaining("/etc: not a release of prod") });
    expect(await run("prod", "prepare", "/etc", "check", "migrate")).toMatchObject({ code: 2, stderr: expect.stringContaining("/etc: not a release of prod") });
    // `prepare` takes Django steps only, and at least one.
    for (const args of [["makemigrations"], [], ["check", "shell"]]) {
      expect(await run("prod", "prepare", "20260101T000000Z-a1b2c3d4", ...args), args.join(" ")).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown step or wrong arguments") });
    }
  });

  it("switches the live path by one rename, to a link, never leaving it missing", () => {
    const out = python(`
for n in ["20260101T000000Z-aaaaaaaa", "20260102T000000Z-bbbbbbbb"]:
    os.makedirs(os.path.join(env.releases, n), exist_ok=True)
    open(os.path.join(env.releases, n, t.META), "w").write(json.dumps({"commit": n[-8:] * 5}))
env.point_live_at("20260101T000000Z-aaaaaaaa")
env.point_live_at("20260102T000000Z-bbbbbbbb")
print(env.current())`);
    expect(out.trim()).toBe("20260102T000000Z-bbbbbbbb");
    expect(readlinkSync(prod.dir)).toBe("releases/20260102T000000Z-bbbbbbbb");
    expect(readdirSync(join(prod.dir, ".."))).not.toContainEqual(expect.stringMatching(/switch-/));
  });

  it(`keeps the newest ${RELEASES_KEPT} ready releases and the live one, and only the venvs they use; removes unfinished ones`, () => {
    python(`
import shutil
for n in os.listdir(env.releases): shutil.rmtree(os.path.join(env.releases, n))
names = [f"202601{d:02d}T000000Z-{d:08x}" for d in range(1, 9)]
for i, n in enumerate(names):
    p = os.path.join(env.releases, n); os.makedirs(p)
    open(os.path.join(p, t.META), "w").write(json.dumps({"commit": f"{i:08x}" * 5}))
    if i != 7: open(os.path.join(p, t.READY), "w").close()
    os.makedirs(os.path.join(env.venvs, f"v{i % 3}"), exist_ok=True)
    os.symlink(f"../../venvs/v{i % 3}", os.path.join(p, "myprojectenv"))
os.makedirs(os.path.join(env.venvs, "orphan"))
env.point_live_at(names[0])
env.prune()
env.clean()`);
    const left = readdirSync(prod.releases).sort();
    expect(left).toEqual(["20260101T000000Z-00000001", "20260102T000000Z-00000002", "20260103T000000Z-00000003", "20260104T000000Z-00000004", "20260105T000000Z-00000005", "20260106T000000Z-00000006", "20260107T000000Z-00000007"].filter((n, i) => i === 0 || i >= 2));
    expect(left).toHaveLength(RELEASES_KEPT + 1);
    expect(readdirSync(prod.venvs).sort()).toEqual(["v0", "v1", "v2"]);
  });

  it("reads the environment file exactly as written, whatever the secret holds", () => {
    const secret = `a$b(c)&d;e'f"g#h\\i\`j k=l $HOME`;
    const file = join(root, "hostile.env");
    writeFileSync(file, envFile(prod, { secretKey: secret, dbPassword: `p'"$\\` }, "db", ["h"], loadProject(sampleProjectDir())));
    const parsed = JSON.parse(python(`print(json.dumps(t.read_env_file(${JSON.stringify(file)})))`));
    expect(parsed.DJANGO_SECRET_KEY).toBe(secret);
    expect(parsed.DATABASE_PASSWORD).toBe(`p'"$\\`);
    // A shell that sources it reads the same bytes, so no deploy breaks on a `(` or `&`.
    const sourced = execFileSync("bash", ["-c", `set -a && . "$0" && printf '%s' "$DJANGO_SECRET_KEY"`, file], { encoding: "utf8" });
    expect(sourced).toBe(secret);
  });

  it("has no live release until the first switch", async () => {
    expect(existsSync(envs[0]!.dir)).toBe(false);
    expect(await run("dev", "current")).toMatchObject({ code: 0, stdout: "\n" });
  });
});
