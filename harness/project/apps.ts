import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Directories that hold no app of the project's own: virtualenvs, caches, collected or built files. */
export const NOT_APPS = new Set([".git", "node_modules", "venv", ".venv", "env", ".tox", "site-packages", "__pycache__", "static", "staticfiles", "media", "templates", "migrations"]);

export interface ProjectApp {
  /** Its directory's name: Django's default app label. */
  label: string;
  dir: string;
  /** Whether its models.py defines a model. */
  hasModels: boolean;
  /** Its migrations as Django records them: `label.0001_initial`. */
  migrations: string[];
}

/**
 * The apps under manage.py's directory, up to two levels down (a project's packages, or apps kept
 * in an `apps/` folder): each directory with a models.py or a migrations folder.
 */
export function projectApps(appDir: string): ProjectApp[] {
  const out: ProjectApp[] = [];
  const visit = (dir: string, depth: number) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith(".") || NOT_APPS.has(e.name)) continue;
      const pkg = join(dir, e.name);
      const models = join(pkg, "models.py");
      const migrations = join(pkg, "migrations");
      if (existsSync(models) || existsSync(migrations)) {
        out.push({
          label: e.name,
          dir: pkg,
          hasModels: existsSync(models) && /class \w+\((\w+\.)?Model\)/.test(readFileSync(models, "utf8")),
          migrations: existsSync(migrations) ? readdirSync(migrations).filter((f) => /^\d{4}_\w+\.py$/.test(f)).map((f) => `${e.name}.${f.replace(/\.py$/, "")}`).sort() : [],
        });
      }
      if (depth < 1) visit(pkg, depth + 1);
    }
  };
  visit(appDir, 0);
  return out.sort((a, b) => (a.label < b.label ? -1 : 1));
}
