// npm run coverage:tool: statement coverage of the release tool and its Django helper by the unit
// specs (release-tool/tests), measured with coverage.py in a venv of its own.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheDir, PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { RELEASE_LIBRARY } from "../../harness/release/tool.ts";
import { log, main } from "../cli.ts";
import { childEnv } from "../../harness/plumbing/settings.ts";

/** The floor the issue set: below it, this command fails. */
const FLOOR = 95;
const OUT = join(PROJECT_ROOT, "reports", "tool-coverage");
// The unit specs run copies of the tool in scratch directories: the files are known by these names.
const FILES: Record<string, string> = {
  "myproject-release": "release_tool.py",
  ...Object.fromEntries(RELEASE_LIBRARY.map((module) => [module, module])),
  "release_django.py": "release_django.py",
  "myproject-release-ssh": "release_ssh.py",
};

/** A venv with coverage.py, and every Python it starts measured (a .pth that starts coverage). */
function coverageVenv(): string {
  const venv = cacheDir("tool-coverage-venv");
  const python = join(venv, "bin", "python");
  if (!existsSync(python)) {
    log.info("coverage: making a venv with coverage.py (the host's package index)");
    execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    execFileSync(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "coverage"], { stdio: "inherit" });
  }
  const site = execFileSync(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).trim();
  writeFileSync(join(site, "ddt_coverage_startup.pth"), "import coverage; coverage.process_startup()\n");
  return python;
}

void main(async () => {
  const python = coverageVenv();
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const rc = join(OUT, "coveragerc");
  // The django helper's specs stand in for release_settings.py (it needs a real Django) in a `judgement` folder: not the tool's.
  writeFileSync(rc, `[run]\nparallel = true\ndata_file = ${join(OUT, ".coverage")}\ninclude =\n${Object.keys(FILES).map((f) => `    */${f}`).join("\n")}\nomit =\n    */judgement/*\n`);
  const env = childEnv({ TESTBED_TOOL_PYTHON: python, COVERAGE_PROCESS_START: rc });
  const run = spawnSync(process.execPath, [join(PROJECT_ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "release-tool/tests", `--outputFile.junit=${join(OUT, "junit.xml")}`], { cwd: PROJECT_ROOT, env, stdio: "inherit" });
  if (run.status !== 0) throw new Error("the release tool's unit specs failed; coverage is not reported");
  execFileSync(python, ["-m", "coverage", "combine", `--rcfile=${rc}`, "-q"], { cwd: OUT });
  const json = join(OUT, "coverage.json");
  execFileSync(python, ["-m", "coverage", "json", `--rcfile=${rc}`, "-q", "-o", json], { cwd: OUT });
  for (const dir of readdirSync(tmpdir()).filter((d) => d.startsWith("ddt-release-tool-"))) rmSync(join(tmpdir(), dir), { recursive: true, force: true });
  const data = JSON.parse(readFileSync(json, "utf8")) as { files: Record<string, { summary: { covered_lines: number; num_statements: number }; missing_lines: number[] }> };
  // The copies of one file from every scratch directory, as one: a line counts if any copy ran it.
  const merged = new Map<string, { statements: Set<number>; missing: Set<number> }>();
  for (const [path, f] of Object.entries(data.files)) {
    const name = FILES[path.split("/").at(-1)!];
    if (!name) continue;
    const m = merged.get(name) ?? { statements: new Set<number>(), missing: new Set<number>() };
    const all = new Set<number>([...f.missing_lines]);
    // Statements a copy ran are not missing, whichever copy.
    if (!merged.has(name)) for (const l of f.missing_lines) m.missing.add(l);
    else for (const l of [...m.missing]) if (!all.has(l)) m.missing.delete(l);
    m.statements.add(f.summary.num_statements);
    merged.set(name, m);
  }
  const rows = Object.values(FILES).map((name) => {
    const m = merged.get(name);
    const statements = m ? Math.max(...m.statements) : 0;
    const pct = statements ? (100 * (statements - m!.missing.size)) / statements : 0;
    return { name, statements, missing: [...(m?.missing ?? [])].sort((a, b) => a - b), pct };
  });
  // A module no spec loads (release_wsgi.py runs only inside gunicorn on a server) is said so, not shown as 0 %.
  const text = rows
    .map((r) => (r.statements ? `${r.name.padEnd(24)} ${String(r.statements).padStart(4)} statements  ${r.pct.toFixed(1).padStart(5)} %  missing: ${r.missing.join(", ") || "none"}` : `${r.name.padEnd(24)} not loaded by the unit specs`))
    .join("\n");
  writeFileSync(join(OUT, "report.txt"), `${text}\n`);
  process.stdout.write(`\n${text}\n(report: reports/tool-coverage/report.txt)\n`);
  const low = rows.filter((r) => ["release_tool.py", "release_django.py"].includes(r.name) && r.pct < FLOOR);
  return low.length ? 1 : 0;
});
