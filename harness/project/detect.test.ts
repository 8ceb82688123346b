import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../plumbing/paths.ts";
import { loadProject, ProjectError } from "./detect.ts";
import { projectWarnings } from "./problems.ts";
import { installText, projectRequirements, requirementName } from "./requirements.ts";

const fixture = (name: string) => join(PROJECT_ROOT, "fixtures", name);
const scratch = mkdtempSync(join(tmpdir(), "ddt-project-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of a fixture with some files written (or removed with null), for one case. */
function variant(name: string, files: Record<string, string | null>): string {
  const dir = mkdtempSync(join(scratch, `${name}-`));
  cpSync(fixture(name), dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    if (text === null) rmSync(join(dir, path), { recursive: true, force: true });
    else {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
  }
  return dir;
}

describe("a project, detected from its repository", () => {
  it("the sample: everything by convention", () => {
    const p = loadProject(fixture("myproject"));
    expect(p).toMatchObject({ appDir: "", wsgi: "myproject.wsgi:application", requirements: "requirements.txt", health: "/", name: "myproject" });
    expect(p.settings).toEqual({ dev: "myproject.settings", staging: "myproject.settings", prod: "myproject.settings" });
    expect(p.sources).toMatchObject({ settings: "manage.py", wsgi: "WSGI_APPLICATION", requirements: "convention" });
  });

  it("another package name, and the variables its settings read, from deploy-testbed.toml", () => {
    const p = loadProject(fixture("shop-database-url"));
    expect(p).toMatchObject({ name: "shop", wsgi: "shop.wsgi:application" });
    expect(p.env.all).toMatchObject({ SECRET_KEY: "{secret_key}", ALLOWED_HOSTS: "{allowed_hosts: }" });
  });

  it("manage.py in a subdirectory, settings per environment, WSGI_APPLICATION in a sibling of the settings module, requirements beside manage.py", () => {
    const p = loadProject(fixture("blog-subdir"));
    expect(p).toMatchObject({ appDir: "app", wsgi: "config.wsgi:application", requirements: "app/requirements.txt", health: "/up" });
    expect(p.settings).toEqual({ dev: "config.settings.development", staging: "config.settings.production", prod: "config.settings.production" });
    expect(p.sources).toMatchObject({ wsgi: "WSGI_APPLICATION", settings: "deploy-testbed.toml" });
    expect(p.env.byEnv.prod).toEqual({ SENTRY_ENVIRONMENT: "production" });
  });

  it("pyproject.toml for requirements, and the WSGI application from a Procfile's gunicorn line", () => {
    const p = loadProject(fixture("wiki-pyproject"));
    expect(p).toMatchObject({ wsgi: "web.wsgi:application", requirements: "pyproject.toml" });
    expect(p.sources.wsgi).toBe("Procfile");
    expect(projectRequirements(p).map((r) => r.name)).toEqual(["django", "psycopg", "gunicorn"]);
  });

  it("flags win over the config file, which wins over conventions", () => {
    const dir = variant("shop-database-url", { "deploy-testbed.toml": 'health = "/from-file"\nwsgi = "shop.wsgi"\n' });
    expect(loadProject(dir)).toMatchObject({ health: "/from-file", wsgi: "shop.wsgi:application", sources: { health: "deploy-testbed.toml" } });
    expect(loadProject(dir, { health: "/from-flag" })).toMatchObject({ health: "/from-flag", sources: { health: "flag" } });
  });

  it.each([
    ["no manage.py", "myproject", { "manage.py": null }, /no manage\.py here or two directories down/],
    ["two manage.py below, none at the root", "blog-subdir", { "tools/manage.py": "" }, /several manage\.py \(app\/manage\.py, tools\/manage\.py\); choose one with app_dir/],
    ["a settings module that is not there", "myproject", { "deploy-testbed.toml": 'settings = "myproject.nope"\n' }, /settings module myproject\.nope \(deploy-testbed\.toml\) is not there/],
    ["a key the file does not take", "myproject", { "deploy-testbed.toml": 'helth = "/"\n' }, /deploy-testbed\.toml: unknown key\(s\) helth; it takes app_dir, settings/],
    ["a file that is not TOML", "myproject", { "deploy-testbed.toml": "health = \n" }, /deploy-testbed\.toml: not valid TOML/],
    ["a variable name that is not one", "myproject", { "deploy-testbed.toml": '[env]\n"MY-VAR" = "x"\n' }, /\[env\] MY-VAR: not a variable name/],
    ["no requirements", "myproject", { "requirements.txt": null }, /no requirements\.txt \(here or beside manage\.py\) and no pyproject\.toml/],
  ])("names what is wrong: %s", (_what, name, files, says) => {
    expect(() => loadProject(variant(name, files))).toThrow(ProjectError);
    expect(() => loadProject(variant(name, files))).toThrow(says);
  });
});

describe("requirements", () => {
  it("reads names from lines, following -r includes, each with its file and line", () => {
    const dir = variant("myproject", { "requirements.txt": "-r base.txt\nDjango_Extensions>=3 # comment\n", "base.txt": "\n# base\nDjango>=5.2\n" });
    expect(projectRequirements(loadProject(dir))).toEqual([
      { name: "django", line: "Django>=5.2", where: "base.txt:3" },
      { name: "django-extensions", line: "Django_Extensions>=3 # comment", where: "requirements.txt:2" },
    ]);
    expect(requirementName("psycopg[binary]>=3; python_version<'3.13'")).toBe("psycopg");
  });

  it("adds gunicorn when the project lacks it, as the seed installs it", () => {
    expect(installText(loadProject(fixture("shop-database-url")))).toMatch(/^-r \S+\/requirements\.txt\ngunicorn\n$/);
    expect(installText(loadProject(fixture("blog-subdir")))).not.toContain("\ngunicorn\n");
  });
});

describe("what the repository says outside its settings", () => {
  it("warns of a Python the servers do not run, naming the file that asks for it, and says nothing when they match", () => {
    expect(projectWarnings(loadProject(fixture("broken-sqlite")), "3.11")).toEqual([
      { severity: "warning", text: "runtime.txt asks for Python 3.8, but the servers run Python 3.11: test the project on 3.11, or change runtime.txt." },
    ]);
    expect(projectWarnings(loadProject(fixture("broken-sqlite")), "3.8")).toEqual([]);
    expect(projectWarnings(loadProject(fixture("shop-database-url")), "3.11")).toEqual([]);
  });
});
