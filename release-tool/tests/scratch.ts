import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { DEFAULT_CONFIG, environments, type Environment } from "../../harness/domain/envs.ts";
import { RELEASE_LIBRARY, releaseToolConfig } from "../../harness/release/tool.ts";

/**
 * A server's layout for the release tool, in a scratch directory, on the host's python3: the
 * environment table's paths under it, the tool and its library as the recipe installs them, and
 * stand-ins for what the tool calls out to:
 * - nginx: an HTTP server that answers as the release behind the live link would (200 with its
 *   X-Release, or what the release's `.fake.json` says), so "serves" means an HTTP answer;
 * - systemctl and sudo: scripts on PATH that log each call (`calls()`), so a test sees what was
 *   restarted;
 * - Django: each release's `manage.py shell -c` runs a helper that answers from `.fake.json`.
 */
export interface FakeRelease {
  /** What GET answers while this release is live: 200 by default. */
  serves?: number;
  /** The Django step that fails in `prepare` (exit code as release_django.py gives it). */
  fails?: string;
  /** unapplied_migrations' and missing_migrations' answers. */
  unapplied?: string[];
  missing?: string[];
}

const HERE = new URL("../", import.meta.url);

export class ToolScratch {
  readonly root = mkdtempSync(join(tmpdir(), "ddt-release-tool-"));
  readonly envs: Environment[];
  readonly tool = join(this.root, "myproject-release");
  readonly lib = join(this.root, "lib");
  readonly fakeBin = join(this.root, "bin");
  readonly configPath = join(this.root, "myproject-release.json");
  private server?: Server;
  private seq = 0;

  constructor() {
    const config = { ...DEFAULT_CONFIG, deployUser: "u" };
    const home = (p: string) => p.replace("/home/u", this.root);
    this.envs = environments(config).map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, typeof v === "string" ? home(v) : v])) as unknown as Environment);
    for (const e of this.envs) {
      for (const d of [e.releases, e.venvs, e.shared, e.media]) mkdirSync(d, { recursive: true });
      writeFileSync(e.envFile, 'DJANGO_SETTINGS_MODULE="myproject.settings"\n', { mode: 0o600 });
    }
    mkdirSync(this.lib);
    copyFileSync(new URL("./release_tool.py", HERE), this.tool);
    chmodSync(this.tool, 0o755);
    for (const lib of RELEASE_LIBRARY) copyFileSync(new URL(`./${lib}`, HERE), join(this.lib, lib));
    writeFileSync(join(this.root, "fake-django.py"), FAKE_DJANGO_HELPER);
    mkdirSync(this.fakeBin);
    mkdirSync(join(this.root, "no-wheels"));
    for (const name of ["systemctl", "sudo"]) {
      writeFileSync(join(this.fakeBin, name), FAKE_COMMAND(name), { mode: 0o755 });
    }
    this.writeConfig(0);
  }

  get prod(): Environment {
    return this.envs[2]!;
  }

  /** The tool's config: the table's, with the fake nginx's port and Django helper, and short waits. */
  writeConfig(port: number, serveSeconds = 0.6, extra: Record<string, unknown> = {}): void {
    const project = { appDir: "", requirements: "requirements.txt", health: "/", host: "localhost", staticUrl: "/static/", mediaUrl: "/media/" };
    const config = JSON.parse(releaseToolConfig({ ...DEFAULT_CONFIG, deployUser: "u" }, this.envs, project)) as { django: string; envs: Record<string, { port: number }> };
    config.django = join(this.root, "fake-django.py");
    for (const e of Object.values(config.envs)) e.port = port;
    // Short waits for a deploy's hold: a test's deploy that never reached verify is abandoned at once.
    writeFileSync(this.configPath, JSON.stringify({ ...config, serveSeconds, lockGraceSeconds: 0.2, lockWaitSeconds: 5, ...extra }));
  }

  /** Starts the stand-in for nginx, on loopback, and points the config at it. */
  async startNginx(): Promise<void> {
    this.server = createServer((req, res) => {
      const live = this.liveRelease();
      const fake = live ? this.fakeOf(live) : {};
      res.writeHead(live ? (fake.serves ?? 200) : 502, live ? { "X-Release": live } : {});
      res.end(live ? `release ${live}` : "no live release");
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.writeConfig(this.nginxPort);
  }

  get nginxPort(): number {
    return (this.server!.address() as { port: number }).port;
  }

  liveRelease(env = this.prod): string | undefined {
    return existsSync(env.dir) ? basename(realpathSync(env.dir)) : undefined;
  }

  private fakeOf(release: string, env = this.prod): FakeRelease {
    const path = join(env.releases, release, ".fake.json");
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as FakeRelease) : {};
  }

  /**
   * A release as `new` and the upload leave it, with a stand-in venv (the host's python3) and
   * manage.py; `ready` marks it as having served once. Named in order, so later ones sort later.
   */
  release(fake: FakeRelease = {}, opts: { ready?: boolean; prepared?: boolean; commit?: string; env?: Environment } = {}): string {
    const env = opts.env ?? this.prod;
    const n = ++this.seq;
    const name = `20260101T0000${String(n).padStart(2, "0")}Z-${(opts.commit ?? `c0ffee${String(n).padStart(2, "0")}`).slice(0, 8)}`;
    const path = join(env.releases, name);
    mkdirSync(path);
    // Prepared (every step before switch done) unless told otherwise, as a deploy leaves it.
    const done = opts.prepared === false ? [] : ["venv", "check", "collectstatic", "migrate"];
    writeFileSync(join(path, ".release.json"), JSON.stringify({ release: name, commit: opts.commit ?? `c0ffee${String(n).padStart(2, "0")}`.padEnd(40, "0"), environment: env.name, done }));
    writeFileSync(join(path, ".fake.json"), JSON.stringify(fake));
    writeFileSync(join(path, "manage.py"), FAKE_MANAGE);
    const venv = join(env.venvs, "fake");
    if (!existsSync(venv)) {
      mkdirSync(join(venv, "bin"), { recursive: true });
      // A script, not a link: a link to a venv's interpreter loses that venv (npm run coverage:tool's).
      writeFileSync(join(venv, "bin", "python"), `#!/bin/sh\nexec ${PYTHON} "$@"\n`, { mode: 0o755 });
    }
    symlinkSync("../../venvs/fake", join(path, "myprojectenv"));
    if (opts.ready ?? true) writeFileSync(join(path, ".release-ready"), "");
    return name;
  }

  /** Points the live link at a release, as an earlier switch would have. */
  makeLive(name: string, env = this.prod): void {
    rmSync(env.dir, { force: true });
    symlinkSync(`releases/${name}`, env.dir);
  }

  /**
   * Runs the tool as the pipeline does, without blocking the stand-in nginx in this process. A last
   * argument that is an object sets variables (FAKE_ACTIVE=0: gunicorn is not running).
   */
  run(...args: Array<string | Record<string, string>>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const vars = typeof args.at(-1) === "object" ? (args.pop() as Record<string, string>) : {};
    return new Promise((resolve, reject) => {
      const child = spawn(PYTHON, [this.tool, ...(args as string[])], {
        env: { ...process.env, RELEASE_TOOL_CONFIG: this.configPath, RELEASE_TOOL_LIB: this.lib, FAKE_LOG: join(this.root, "calls.log"), FAKE_ACTIVE: "1", PATH: `${this.fakeBin}:${process.env.PATH}`, ...vars },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b));
      child.stderr.on("data", (b: Buffer) => (stderr += b));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** What the stand-ins for systemctl and sudo were asked, one call a line; then forgets them. */
  calls(): string[] {
    const path = join(this.root, "calls.log");
    if (!existsSync(path)) return [];
    const lines = readFileSync(path, "utf8").trim().split("\n").filter(Boolean);
    rmSync(path);
    return lines;
  }

  async dispose(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    // npm run coverage:tool reads the copies' sources after the run, and removes them itself.
    if (!process.env.COVERAGE_PROCESS_START) rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * The host's python3 itself, not a version manager's shim on PATH (pyenv's re-executes through a
 * shell script: about half of each of the tool's runs here).
 */
export const PYTHON = process.env.TESTBED_TOOL_PYTHON ?? execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

/** systemctl and sudo: log the call; `is-active` answers from FAKE_ACTIVE; sudo runs nothing. */
const FAKE_COMMAND = (name: string) => `#!/bin/sh
echo "${name} $*" >> "$FAKE_LOG"
if [ "${name}" = systemctl ] && [ "$1" = is-active ]; then [ "$FAKE_ACTIVE" = 1 ]; exit $?; fi
exit 0
`;

/** manage.py as the tool calls it: `shell -v 0 -c CODE`. */
const FAKE_MANAGE = `import sys
assert sys.argv[1:5] == ["shell", "-v", "0", "-c"], sys.argv
exec(sys.argv[5])
`;

/** The Django helper's functions, answering from the release's .fake.json (the working directory). */
const FAKE_DJANGO_HELPER = `import json, sys
fake = json.load(open(".fake.json"))

def prepare(prog, env_name, project, production, steps, migrations, failed_exit):
    for index, step in enumerate(steps):
        if fake.get("fails") == step:
            print(f"{step} broke on purpose", file=sys.stderr)
            sys.exit(failed_exit + index)
        print(f"{prog}: {env_name}: {step} done in 0.01 s", file=sys.stderr)

def unapplied_migrations():
    for m in fake.get("unapplied", []):
        print(f"unapplied-migration {m}")

def missing_migrations():
    for m in fake.get("missing", []):
        print(f"missing-migration {m}")

def facts():
    if fake.get("factsFail"):
        sys.exit(1)
    print(json.dumps({"vendor": "postgresql", "database": "u_prod", "user": "u_prod", "debug": False, "unapplied": fake.get("unapplied", []), "static_root": "", "settings": "myproject.settings"}))
`;
