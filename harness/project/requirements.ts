import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parse as parseToml } from "smol-toml";
import type { DjangoProject } from "./detect.ts";

/** One requirement as the project states it, and where: for messages that name the file and line. */
export interface Requirement {
  name: string;
  line: string;
  /** "requirements/base.txt:3", relative to the repository. */
  where: string;
}

/** The distribution a requirement line names ("Django>=5.2" → "django"), or undefined for options and comments. */
export function requirementName(line: string): string | undefined {
  const text = line.replace(/\s+#.*$/, "").trim();
  if (!text || text.startsWith("#") || text.startsWith("-")) return undefined;
  return text.split(/[\s[<>=!~;@]/, 1)[0]!.toLowerCase().replace(/_/g, "-");
}

/** Every requirement of the project, following `-r` includes, each with its file and line. */
export function projectRequirements(project: Pick<DjangoProject, "dir" | "requirements">): Requirement[] {
  const out: Requirement[] = [];
  const file = join(project.dir, project.requirements);
  if (file.endsWith(".toml")) {
    const deps = ((parseToml(readFileSync(file, "utf8")) as { project?: { dependencies?: string[] } }).project?.dependencies ?? []);
    deps.forEach((line) => out.push({ name: requirementName(line)!, line, where: `${project.requirements} [project] dependencies` }));
    return out.filter((r) => r.name);
  }
  const seen = new Set<string>();
  const walk = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    readFileSync(path, "utf8").split("\n").forEach((line, i) => {
      const include = /^\s*(-r|--requirement)\s*=?\s*(\S+)/.exec(line);
      if (include) {
        const next = join(dirname(path), include[2]!);
        if (existsSync(next)) walk(next);
        return;
      }
      const name = requirementName(line);
      if (name) out.push({ name, line: line.trim(), where: `${relative(project.dir, path)}:${i + 1}` });
    });
  };
  walk(file);
  return out;
}

/**
 * What pip installs for the project, as a requirements file's text for the host's `pip download`:
 * the project's own file by its absolute path (its includes resolve beside it), or pyproject's
 * dependencies; gunicorn added when the project lacks it, as the seed installs it.
 */
export function installText(project: Pick<DjangoProject, "dir" | "requirements">): string {
  const requirements = projectRequirements(project);
  const file = join(project.dir, project.requirements);
  const base = file.endsWith(".toml") ? requirements.map((r) => `${r.line}\n`).join("") : `-r ${file}\n`;
  return requirements.some((r) => r.name === "gunicorn") ? base : `${base}gunicorn\n`;
}
