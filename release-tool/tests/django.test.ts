import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { PYTHON } from "./scratch.ts";
import { releaseSteps } from "../../harness/release/commands.ts";

// release_django.py's functions, on the host's python3, against a stand-in `django` package that
// records each call_command and fails the commands FAIL names, the way Django's own do: a
// CommandError, a SystemExit (makemigrations --check), or any other exception.
const root = mkdtempSync(join(tmpdir(), "ddt-release-django-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const HELPER = fileURLToPath(new URL("../release_django.py", import.meta.url));

const files: Record<string, string> = {
  "django/__init__.py": "",
  "django/core/__init__.py": "",
  "django/core/management/base.py": "class CommandError(Exception):\n    pass\n",
  "django/core/management/__init__.py": `import os, sys
from .base import CommandError
def call_command(name, **options):
    print(f"called {name} {sorted(options.items())}", file=sys.stderr)
    if name == "check":
        from django.conf import settings
        print(f"silenced {settings.SILENCED_SYSTEM_CHECKS}", file=sys.stderr)
    how = dict(f.split("=") for f in os.environ.get("FAIL", "").split(",") if f).get(name)
    if how == "command-error": raise CommandError(f"{name} is unhappy")
    if how == "exit": sys.exit(1)
    if how == "crash": raise RuntimeError(f"{name} crashed")
`,
  "django/db/__init__.py": `import os
class _Cursor:
    def __enter__(self): return self
    def __exit__(self, *a): return False
    def execute(self, sql): self.sql = sql
    def fetchone(self): return ("shop_prod", "shop_prod") if "current_database" in self.sql else (1, 1)
class _Connection:
    vendor = os.environ.get('VENDOR', 'postgresql')
    def cursor(self): return _Cursor()
connection = _Connection()
connections = {'default': connection}
`,
  "django/conf/__init__.py": "import os\nclass _Settings:\n    STATIC_URL = os.environ.get('STATIC_URL', '/static/')\n    STATIC_ROOT = os.environ.get('STATIC_ROOT', '')\n    MEDIA_URL = os.environ.get('MEDIA_URL', '/media/')\n    MEDIA_ROOT = os.environ.get('MEDIA_ROOT', '')\n    SILENCED_SYSTEM_CHECKS = ['own.W001']\n    DEBUG = os.environ.get('DEBUG') == '1'\nsettings = _Settings()\n",
  "django/db/migrations/__init__.py": "",
  "django/db/migrations/loader.py": `class MigrationLoader:
    def __init__(self, connection, ignore_no_migrations=False):
        self.applied_migrations = {("notes", "0001_initial"): 1, ("notes", "0003_note_author"): 1}
        self.disk_migrations = {("notes", "0001_initial"): 1, ("notes", "0002_note_pinned"): 1}
`,
  "django/db/migrations/executor.py": `class _Graph:
    def leaf_nodes(self): return [("notes", "0002_note_pinned")]
class _Migration:
    def __init__(self, app, name): self.app_label, self.name = app, name
class MigrationExecutor:
    def __init__(self, connection):
        self.loader = type("L", (), {"graph": _Graph()})()
    def migration_plan(self, targets): return [(_Migration("notes", "0002_note_pinned"), False)]
`,
  // The judgement of the settings (release_settings.py, which needs a real Django: the preflight
  // specs run it), stood in for: it says how it was asked, and judges as JUDGED says.
  "judgement/release_settings.py": `import json, os, sys
def evaluate(project_dir, tier, hosts, https):
    print(f"judged {tier} {hosts} {https}", file=sys.stderr)
    return {}, json.loads(os.environ.get("JUDGED", "[]"))
`,
  "shop/__init__.py": "",
  "shop/wsgi.py": "import os\napplication = (lambda environ, start: []) if not os.environ.get('BAD_WSGI') else None\n",
};
for (const [path, text] of Object.entries(files)) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

// A release, as the tool runs Django in it: its .release.json at the root, manage.py's directory below.
const release = join(root, "releases", "R1");
mkdirSync(join(release, "app"), { recursive: true });
writeFileSync(join(release, ".release.json"), "{}");

/** Calls one function of the helper as the tool does (runpy), with these stand-ins on the path. */
function call(fn: string, args: unknown[] = [], env: Record<string, string> = {}) {
  const code = `import runpy, sys\nsys.path.insert(0, ${JSON.stringify(root)})\nrunpy.run_path(${JSON.stringify(HELPER)})[${JSON.stringify(fn)}](*${JSON.stringify(args)})`;
  const r = spawnSync(PYTHON, ["-c", code.replace(/\btrue\b/g, "True").replace(/\bfalse\b/g, "False")], { encoding: "utf8", cwd: join(release, "app"), env: { ...process.env, RELEASE_WSGI: "shop.wsgi:application", STATIC_ROOT: join(release, "app", "static"), RELEASE_LIBRARY: join(root, "judgement"), RELEASE_HOST: "127.0.0.1", ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const prepare = (steps: string[], opts: { production?: boolean; migrations?: boolean; env?: Record<string, string> } = {}) =>
  call("prepare", ["shop-release", "prod", "shop", opts.production ?? false, steps, opts.migrations ?? false, 100], opts.env);
const called = (stderr: string) => [...stderr.matchAll(/^(?:called|(judged)) (\S+) (.*)$/gm)].map((m) => (m[1] ? `judged ${m[2]} ${m[3]}` : `${m[2]} ${m[3]}`));

describe("release_django.py prepare", () => {
  it("runs the steps in order, logging each, check judging the settings as production's", () => {
    const r = prepare(["check", "collectstatic", "migrate"], { production: true });
    expect(r.code, r.stderr).toBe(0);
    expect(called(r.stderr)).toEqual([
      "check []",
      "judged production ['127.0.0.1'] False",
      "collectstatic [('interactive', False)]",
      "migrate [('interactive', False)]",
    ]);
    expect(r.stderr).toMatch(/shop-release: prod: check done in [\d.]+ s\n[^]*shop-release: prod: collectstatic done in[^]*shop-release: prod: migrate done in/);
  });

  it("judges the settings as the environment's tier says outside production, and adds makemigrations --check when asked", () => {
    const r = prepare(["check"], { migrations: true, env: { RELEASE_TIER: "staging" } });
    expect(called(r.stderr)).toEqual(["check []", "judged staging ['127.0.0.1'] False", "makemigrations [('check', True), ('dry_run', True)]"]);
    expect(called(prepare(["check"]).stderr)).toEqual(["check []", "judged development ['127.0.0.1'] False"]);
  });

  it.each([
    ["a CommandError", "command-error", /CommandError: migrate is unhappy/],
    ["a SystemExit", "exit", /^(?![^]*Traceback)/],
    ["any other exception", "crash", /Traceback[^]*RuntimeError: migrate crashed/],
  ])("exits with 100 + the index of the step that raised %s, and runs nothing after it", (_what, how, says) => {
    const r = prepare(["check", "migrate", "collectstatic"], { env: { FAIL: `migrate=${how}` } });
    expect(r.code).toBe(101);
    expect(r.stderr).toMatch(says);
    expect(called(r.stderr).map((c) => c.split(" ")[0])).toEqual(["check", "judged", "migrate"]);
  });

  it("fails check when the WSGI application does not import as a callable, and refuses an unknown step", () => {
    const bad = prepare(["check"], { env: { BAD_WSGI: "1" } });
    expect(bad.code).toBe(100);
    expect(bad.stderr).toContain("shop.wsgi.application (the WSGI application gunicorn runs) is not callable");
    const unknown = prepare(["collectstatic", "shell"]);
    expect(unknown.code).toBe(101);
    expect(unknown.stderr).toContain("unknown step 'shell'");
  });
});

describe("release_django.py check and collectstatic, for any project", () => {
  it("fails check on the judgement's errors, in its words, and only prints its warnings", () => {
    const judged = [
      { severity: "error", setting: "DATABASES", text: "DATABASES['default'] is django.db.backends.sqlite3 (sqlite), not the environment's Postgres database" },
      { severity: "warning", setting: "DEBUG", text: "DEBUG is on in a staging environment" },
    ];
    const r = prepare(["check"], { production: true, env: { JUDGED: JSON.stringify(judged) } });
    expect(r.code).toBe(100);
    expect(r.stderr).toContain("CommandError: the settings cannot serve a production environment: DATABASES['default'] is django.db.backends.sqlite3 (sqlite), not the environment's Postgres database");
    expect(r.stderr).toContain("warning: DEBUG is on in a staging environment");
    const warned = prepare(["check"], { env: { JUDGED: JSON.stringify([judged[1]]) } });
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toContain("warning: DEBUG is on in a staging environment");
  });

  it("links .static at the release's root to the project's STATIC_ROOT, wherever inside the release it is", () => {
    const r = prepare(["collectstatic"], { env: { STATIC_ROOT: join(release, "app", "staticfiles") } });
    expect(r.code, r.stderr).toBe(0);
    expect(readlinkSync(join(release, ".static"))).toBe("app/staticfiles");
  });

  it("refuses a STATIC_ROOT outside the release, an unset one, and a STATIC_URL nginx does not serve", () => {
    expect(prepare(["collectstatic"], { env: { STATIC_ROOT: "/var/www/static" } }).stderr).toContain("STATIC_ROOT is /var/www/static, outside the release");
    expect(prepare(["collectstatic"], { env: { STATIC_ROOT: "" } }).stderr).toContain("STATIC_ROOT is not set");
    expect(prepare(["collectstatic"], { env: { STATIC_ROOT: join(release, "s"), STATIC_URL: "/assets/" } }).stderr).toContain("STATIC_URL is '/assets/', but nginx serves /static/ (read from the settings when the servers were set up)");
    expect(prepare(["collectstatic"], { env: { MEDIA_URL: "/uploads/", RELEASE_MEDIA_URL: "/media/" } }).stderr).toContain("MEDIA_URL is '/uploads/', but nginx serves /media/");
    // Unset, Django's MEDIA_URL reads "/": the project serves no uploads, and that is no mismatch.
    expect(prepare(["collectstatic"], { env: { MEDIA_URL: "/", RELEASE_MEDIA_URL: "/media/" } }).code).toBe(0);
  });

  it("accepts the URLs nginx serves however the settings spell them, and links an in-release MEDIA_ROOT to the shared uploads", () => {
    const shared = join(root, "shared", "media");
    mkdirSync(shared, { recursive: true });
    const r = prepare(["collectstatic"], { env: { STATIC_URL: "staticfiles", RELEASE_STATIC_URL: "/staticfiles/", MEDIA_ROOT: join(release, "app", "mediafiles"), RELEASE_MEDIA: shared } });
    expect(r.code, r.stderr).toBe(0);
    expect(readlinkSync(join(release, "app", "mediafiles"))).toBe("../../../shared/media");
  });

  it("tells the judgement whether people reach the environment over HTTPS, and which host the switch asks with", () => {
    expect(called(prepare(["check"], { production: true, env: { RELEASE_HTTPS: "1", RELEASE_HOST: "shop.example" } }).stderr)).toContain("judged production ['shop.example'] True");
    expect(called(prepare(["check"], { production: true, env: { RELEASE_HTTPS: "0" } }).stderr)).toContain("judged production ['127.0.0.1'] False");
  });
});

describe("release_django.py migrations", () => {
  it("lists the release's migrations the database lacks, and the database's the release lacks", () => {
    expect(call("unapplied_migrations").stdout).toBe("unapplied-migration notes.0002_note_pinned\n");
    expect(call("missing_migrations").stdout).toBe("missing-migration notes.0003_note_author\n");
  });
});

describe("the step table", () => {
  it("reports what the release's Django connects to, DEBUG and its unapplied migrations, as one JSON line (the tool's facts)", () => {
    const r = call("facts", [], { DJANGO_SETTINGS_MODULE: "shop.settings", DEBUG: "1", STATIC_ROOT: "/x/static" });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ vendor: "postgresql", database: "shop_prod", user: "shop_prod", debug: true, unapplied: ["notes.0002_note_pinned"], static_root: "/x/static", settings: "shop.settings" });
  });

  it("refuses to collect outside a release, and replaces an old media link but warns about a media directory of the release's own", () => {
    const outside = mkdtempSync(join(tmpdir(), "ddt-not-a-release-"));
    try {
      const r = spawnSync(PYTHON, ["-c", `import runpy, sys\nsys.path.insert(0, ${JSON.stringify(root)})\nrunpy.run_path(${JSON.stringify(HELPER)})["release_root"]()`], { encoding: "utf8", cwd: outside });
      expect(r.stderr).toContain(`${outside} is not inside a release (no .release.json above it)`);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
    const shared = join(root, "shared-media");
    mkdirSync(shared, { recursive: true });
    const link = join(release, "app", "media-old");
    rmSync(link, { recursive: true, force: true });
    symlinkSync("/nowhere", link);
    const env = { STATIC_ROOT: join(release, "app", "static"), MEDIA_ROOT: link, RELEASE_MEDIA: shared };
    mkdirSync(join(release, "app", "static", "css"), { recursive: true });
    writeFileSync(join(release, "app", "static", "css", "site.css"), "body {}\n");
    expect(prepare(["collectstatic"], { env }).code).toBe(0);
    // What collectstatic left, with each file's digest: the checklist asks nginx for these.
    expect(JSON.parse(readFileSync(join(release, ".release-static.json"), "utf8"))).toEqual({ "css/site.css": createHash("sha256").update("body {}\n").digest("hex") });
    expect(readlinkSync(link)).toBe(relative(dirname(link), shared));
    const dir = join(release, "app", "media-dir");
    mkdirSync(dir, { recursive: true });
    const warned = prepare(["collectstatic"], { env: { ...env, MEDIA_ROOT: dir } });
    expect(warned.stderr).toContain(`warning: MEDIA_ROOT ${dir} is a directory of the release: uploads saved there are lost at the next deploy`);
  });

  it("stops at a crash point inside Django when the environment names it, saying where", async () => {
    const envRoot = mkdtempSync(join(tmpdir(), "ddt-crash-"));
    // Another point named: it runs on.
    writeFileSync(join(envRoot, ".release-crash-point"), "collectstatic:start");
    expect(prepare(["check"], { env: { RELEASE_ROOT: envRoot } }).code).toBe(0);
    writeFileSync(join(envRoot, ".release-crash-point"), "migrate:start");
    const code = `import runpy, sys\nsys.path.insert(0, ${JSON.stringify(root)})\nrunpy.run_path(${JSON.stringify(HELPER)})["prepare"]("t", "prod", "shop", False, ["check", "migrate"], False, 100)`;
    const child = spawn(PYTHON, ["-c", code], { cwd: join(release, "app"), env: { ...process.env, RELEASE_ROOT: envRoot, RELEASE_WSGI: "shop.wsgi:application", RELEASE_LIBRARY: join(root, "judgement") } });
    try {
      const reached = join(envRoot, ".release-crash-point.reached");
      for (let i = 0; i < 100 && !existsSync(reached); i++) await new Promise((r) => setTimeout(r, 50));
      expect(readFileSync(reached, "utf8")).toMatch(new RegExp(`^migrate:start ${child.pid} \\d+\\n$`));
    } finally {
      child.kill("SIGKILL");
      rmSync(envRoot, { recursive: true, force: true });
    }
  });

  it("names each Django step release_django.py runs, and nothing else runs as one", () => {
    const code = `import runpy, sys, json\nsys.path.insert(0, ${JSON.stringify(root)})\nprint(json.dumps(sorted(runpy.run_path(${JSON.stringify(HELPER)})["STEPS"])))`;
    const steps = JSON.parse(spawnSync(PYTHON, ["-c", code], { encoding: "utf8" }).stdout) as string[];
    expect(steps).toEqual(releaseSteps().filter((s) => s.runs === "django").map((s) => s.step).sort());
  });
});
