import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../plumbing/paths.ts";
import { addMigration, addRequirement, addStaticFile, appendToSettings, combine, failingMigration, modelWithoutMigration, settingsFile, sqlMigration, touchFile } from "./changes.ts";
import { loadProject } from "./detect.ts";

const fixture = (name: string) => join(PROJECT_ROOT, "fixtures", name);
const at = (name: string) => ({ dir: fixture(name), project: loadProject(fixture(name)) });

describe("changes any Django project can be given, computed from its model", () => {
  it("finds the prod settings module's own file: a module, a package's module, under a subdirectory", () => {
    expect(settingsFile(at("myproject").dir, at("myproject").project)).toBe("myproject/settings.py");
    expect(settingsFile(at("blog-subdir").dir, at("blog-subdir").project)).toBe("app/config/settings/production.py");
    expect(settingsFile(at("blog-subdir").dir, at("blog-subdir").project, "dev")).toBe("app/config/settings/development.py");
  });

  it("appends to the settings file, keeping what it had", () => {
    const { dir, project } = at("shop-database-url");
    const [[path, text]] = Object.entries(appendToSettings(dir, project, "DEBUG = True").write!) as [[string, string]];
    expect(path).toBe("shop/settings.py");
    expect(text.endsWith("\n\nDEBUG = True\n")).toBe(true);
    expect(text.length).toBeGreaterThan(100);
  });

  it("adds a migration after the first app's latest, depending on it; numbered next", () => {
    const { dir, project } = at("myproject");
    const m = addMigration(dir, project, "testbed_x", "migrations.RunSQL('SELECT 1', 'SELECT 1')");
    expect(m.name).toBe("notes.0003_testbed_x");
    const [[path, text]] = Object.entries(m.changes.write!) as [[string, string]];
    expect(path).toBe("notes/migrations/0003_testbed_x.py");
    expect(text).toContain(`dependencies = [("notes", "0002_note_pinned")]`);
    const sub = addMigration(at("blog-subdir").dir, at("blog-subdir").project, "testbed_y", "migrations.RunSQL('SELECT 1', 'SELECT 1')");
    expect(Object.keys(sub.changes.write!)).toEqual(["app/posts/migrations/0002_testbed_y.py"]);
  });

  it("writes migrations that Python compiles, with the words the failing one raises", () => {
    const { dir, project } = at("wiki-pyproject");
    const root = mkdtempSync(join(tmpdir(), "ddt-changes-"));
    try {
      for (const m of [failingMigration(dir, project), sqlMigration(dir, project, "testbed_sql", "ALTER TABLE t ADD COLUMN \"a\" text DEFAULT ''", "ALTER TABLE t DROP COLUMN a")]) {
        for (const [path, text] of Object.entries(m.changes.write!)) {
          mkdirSync(dirname(join(root, path)), { recursive: true });
          writeFileSync(join(root, path), text);
          execFileSync("python3", ["-m", "py_compile", join(root, path)]);
        }
      }
      expect(failingMigration(dir, project).message).toBe("RuntimeError: boom: this migration always fails");
      expect(Object.values(failingMigration(dir, project).changes.write!)[0]).toContain('raise RuntimeError("boom: this migration always fails")');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("adds a model without its migration to the app with migrations, in Python that compiles", () => {
    const root = mkdtempSync(join(tmpdir(), "ddt-changes-"));
    try {
      for (const name of ["myproject", "blog-subdir", "wiki-pyproject"]) {
        const { dir, project } = at(name);
        const m = modelWithoutMigration(dir, project);
        const [[path, text]] = Object.entries(m.changes.write!) as [[string, string]];
        expect(path.endsWith(`${m.app}/models.py`), path).toBe(true);
        expect(text).toMatch(/\nclass TestbedUnmigrated\(testbed_models\.Model\):\n    name = testbed_models\.CharField\(max_length=40\)\n$/);
        if (existsSync(join(dir, path))) expect(text.startsWith(readFileSync(join(dir, path), "utf8").trimEnd()), `${name}: the app's own models are kept`).toBe(true);
        mkdirSync(dirname(join(root, name, path)), { recursive: true });
        writeFileSync(join(root, name, path), text);
        execFileSync("python3", ["-m", "py_compile", join(root, name, path)]);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("adds a requirement to a requirements file, and refuses pyproject.toml with a reason", () => {
    const { dir, project } = at("myproject");
    expect(addRequirement(dir, project, "sqlparse>=0.5").write!["requirements.txt"]).toMatch(/\nsqlparse>=0\.5\n$/);
    expect(() => addRequirement(at("wiki-pyproject").dir, at("wiki-pyproject").project, "x")).toThrow(/pyproject\.toml is not supported/);
  });

  it("puts a static file beside a shipped one, at the matching URL; combines changes", () => {
    const s = addStaticFile({ path: "assets/css/site.css", url: "/static/css/site.css" }, "new.svg", "<svg/>");
    expect(s).toEqual({ changes: { write: { "assets/css/new.svg": "<svg/>" } }, url: "/static/css/new.svg" });
    expect(combine(s.changes, touchFile("a.txt", "a"), { remove: ["b"] })).toEqual({ write: { "assets/css/new.svg": "<svg/>", "testbed-changes/a.txt": "a" }, remove: ["b"] });
  });
});
