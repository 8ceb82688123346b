import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, environments } from "../../harness/domain/envs.ts";
import { ensureImages } from "../../harness/images/catalog.ts";
import { silentLogger } from "../../harness/plumbing/log.ts";
import { loadProject } from "../../harness/project/detect.ts";
import { preflightProject, type PreflightResult } from "../../harness/preflight/preflight.ts";
import { allowedHosts } from "../../harness/recipe/hosts.ts";
import { checkProject } from "../../harness/sandbox/check.ts";

/**
 * Preflight by Django itself, with no server: each environment's settings loaded by the project's
 * own Django under that environment's variables, in a container with no network. One fixture per
 * way that reading settings as text refused projects that deploy, each judged as Django sees it;
 * and the projects that must not deploy, refused in the environments their settings break, in words
 * that name the file and line.
 */
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}/`, import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "ddt-preflight-spec-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let image = "";
beforeAll(async () => {
  image = (await ensureImages({ log: silentLogger })).appserver;
});

const preflight = (dir: string): Promise<PreflightResult> =>
  preflightProject(loadProject(dir), { image, envs: environments(DEFAULT_CONFIG), allowedHosts: allowedHosts(), serverPython: "3.11", log: silentLogger });
const outcomes = (r: PreflightResult) => Object.fromEntries(r.verdicts.map((v) => [v.env, v.outcome]));

/** A copy of a fixture with one file's text replaced, for a shape no fixture needs to keep. */
function variant(name: string, file: string, replace: (text: string) => string): string {
  const dir = join(scratch, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  cpSync(fixture(name), dir, { recursive: true });
  writeFileSync(join(dir, file), replace(readFileSync(join(dir, file), "utf8")));
  return dir;
}

describe("preflight by Django itself", () => {
  it.each([
    ["library-database-override", "DATABASES starts as sqlite and is replaced when DATABASE_URL is set"],
    ["forum-dev-flag", "sqlite only under a development flag, else DATABASE_URL"],
    ["recipes-commented-sqlite", "a sqlite block inside a comment"],
    ["events-settings-package", "a production module that star-imports a sqlite, DEBUG-on base and overrides it"],
    ["shop-database-url", "DATABASE_URL and its own variable names"],
    ["blog-subdir", "a settings package per environment, below app/"],
  ])("%s (%s): allowed in every environment, with no problem", async (name) => {
    const r = await preflight(fixture(name));
    expect(r.problems.map((p) => p.text), r.report).toEqual([]);
    expect(outcomes(r)).toEqual({ dev: "allowed", staging: "allowed", prod: "allowed" });
  });

  it("DEBUG = True written into the settings: fine in dev, a warning in staging, refused in prod, each naming the line", async () => {
    const r = await preflight(fixture("notes-debug-on"));
    expect(outcomes(r)).toEqual({ dev: "allowed", staging: "allowed", prod: "refused" });
    expect(r.problems).toEqual([
      { severity: "warning", text: expect.stringMatching(/^staging: notes\/settings\.py:11: DEBUG is on, whatever DJANGO_DEBUG says, in a staging environment/) },
      { severity: "error", text: expect.stringMatching(/^prod: notes\/settings\.py:11: DEBUG is on, whatever DJANGO_DEBUG says, in a production environment.*security\.W018.*\{debug\}/) },
    ]);
  });

  it("refuses the broken shape everywhere, each problem in words with the line that set it, the unservable requirement by its line", async () => {
    const r = await preflight(fixture("broken-sqlite"));
    expect(outcomes(r)).toEqual({ dev: "refused", staging: "refused", prod: "refused" });
    const prod = r.problems.filter((p) => p.text.startsWith("prod: ")).map((p) => `${p.severity} ${p.text.slice(6)}`);
    expect(prod).toEqual(expect.arrayContaining([
      expect.stringMatching(/^error requirements\.txt:2: ddt-not-on-any-index==1\.0: the package index cannot serve it/),
      expect.stringMatching(/^error mysite\/settings\.py:12: DATABASES\['default'\] is django\.db\.backends\.sqlite3 \(sqlite\), not the environment's Postgres/),
      expect.stringMatching(/^error mysite\/settings\.py:5: DEBUG is on/),
      expect.stringMatching(/^error mysite\/settings\.py:6: ALLOWED_HOSTS is \['polls\.example\.com'\], which refuses 127\.0\.0\.1/),
      expect.stringMatching(/^warning mysite\/settings\.py:7: SECURE_SSL_REDIRECT is on/),
      expect.stringMatching(/^error app polls has models but no migrations.*Create model Question.*makemigrations polls/),
      expect.stringMatching(/^error Django's check staticfiles\.W004: The directory 'frontend\/dist' in the STATICFILES_DIRS setting does not exist/),
    ]));
    // Where a tier allows DEBUG, it is no problem there; the database still is.
    expect(r.problems.some((p) => p.text.startsWith("dev: mysite/settings.py:5: DEBUG"))).toBe(false);
    expect(r.problems.some((p) => p.text.startsWith("dev: mysite/settings.py:12: DATABASES"))).toBe(true);
  });

  it("refuses settings that raise at import under the contract, naming the variable, the file and line, and the [env] mapping", async () => {
    const dir = variant("recipes-commented-sqlite", "cookbook/settings.py", (t) => t.replace('DEBUG = environ.get("DJANGO_DEBUG") == "1"', 'DEBUG = environ.get("DJANGO_DEBUG") == "1"\nCACHE_URL = environ["REDIS_URL"]'));
    const r = await preflight(dir);
    expect(outcomes(r)).toEqual({ dev: "refused", staging: "refused", prod: "refused" });
    expect(r.problems[0]!.text).toMatch(/^dev: cookbook\/settings\.py:8: importing cookbook\.settings with dev's environment raised KeyError: 'REDIS_URL'; the deploy does not set REDIS_URL: map it in deploy-testbed\.toml, under \[env\] for every environment or \[env\.dev\]/);
  });

  it("runs the project's code in a container with no network: its settings see no interface but loopback", async () => {
    // The settings say what network they see, by raising it: no packet is sent anywhere.
    const dir = variant("library-database-override", "library/settings.py", (t) => `import os as _os\nraise RuntimeError(f"interfaces: {sorted(_os.listdir('/sys/class/net'))}")\n${t}`);
    const r = await preflight(dir);
    expect(r.problems[0]!.text).toMatch(/^dev: library\/settings\.py:2: importing library\.settings with dev's environment raised RuntimeError: interfaces: \['lo'\]; /);
  });
});

// `npm run sandbox -- check --project PATH`: the same evaluation, and what the harness detects.
describe("npm run sandbox -- check", () => {
  it("finds nothing wrong with a shape that deploys, says where each fact came from and each environment's outcome", async () => {
    const { report, errors } = await checkProject(fixture("blog-subdir"), { log: silentLogger });
    expect(errors).toBe(0);
    expect(report).toContain("No problem found.");
    expect(report).toContain("Judged by the project's own Django, per environment: dev allowed, staging allowed, prod allowed");
    expect(report).toMatch(/manage\.py in\s+app\s+\(manage\.py found\)/);
    expect(report).toMatch(/health path\s+\/up\s+\(deploy-testbed\.toml\)/);
  });

  it("counts the refused environments, and names a directory that is no Django project", async () => {
    expect((await checkProject(fixture("notes-debug-on"), { log: silentLogger })).errors).toBe(1);
    const { report, errors } = await checkProject(fileURLToPath(new URL("../../images/", import.meta.url)), { log: silentLogger });
    expect(errors).toBe(1);
    expect(report).toMatch(/error: .*no manage\.py here or two directories down; is this a Django project\?/);
  });
});
