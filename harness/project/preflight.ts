import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { projectApps } from "./apps.ts";
import { CONFIG_FILE, settingsFiles, type DjangoProject } from "./detect.ts";

/**
 * What a project would break, found by reading it, before any server is touched. Each problem is
 * one sentence: the file and line or the setting, what is wrong, and what to change. An error stops
 * a deploy; a warning is reported. Facts only the project's own Django knows (the database it really
 * uses, STATIC_ROOT) are checked again by the release tool on the server, at `check` and
 * `collectstatic`; the requirements by the wheelhouse, which names the line the index cannot serve.
 */
export interface Problem {
  severity: "error" | "warning";
  text: string;
}

export interface PreflightContext {
  /** The servers' Python, "3.11". */
  serverPython: string;
  /** The hosts the deploy sets in ALLOWED_HOSTS. */
  allowedHosts: string[];
}

/** One line of a settings file that assigns `name`, with its number (1-based). */
function assignments(file: string, name: string): Array<{ line: number; value: string }> {
  return readFileSync(file, "utf8")
    .split("\n")
    .flatMap((text, i) => {
      const m = new RegExp(`^${name}\\s*=\\s*(.*)$`).exec(text);
      return m ? [{ line: i + 1, value: m[1]!.trim() }] : [];
    });
}

export function preflight(project: DjangoProject, ctx: PreflightContext): Problem[] {
  const problems: Problem[] = [];
  const error = (text: string) => problems.push({ severity: "error", text });
  const warning = (text: string) => problems.push({ severity: "warning", text });
  const app = join(project.dir, project.appDir);
  const at = (file: string, line: number) => `${relative(project.dir, file)}:${line}`;

  if (project.python && project.python.version !== ctx.serverPython) {
    warning(`${project.python.from} asks for Python ${project.python.version}, but the servers run Python ${ctx.serverPython}: test the project on ${ctx.serverPython}, or change ${project.python.from}.`);
  }

  const files = [...new Set(Object.values(project.settings).flatMap((s) => settingsFiles(app, s)))];
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    text.split("\n").forEach((line, i) => {
      if (/["']django\.db\.backends\.sqlite3["']/.test(line) && !/environ|getenv|config\(/.test(line)) {
        error(`${at(file, i + 1)}: the project does not use the environment's Postgres database (ENGINE is sqlite3, written into the settings): read DATABASE_URL (dj-database-url), or map the database values onto its own variables in ${CONFIG_FILE}.`);
      }
    });
    for (const { line, value } of assignments(file, "DEBUG")) {
      if (/^True\b/.test(value)) error(`${at(file, line)}: DEBUG = True whatever the environment says, but production must run with it off (Django's check --deploy: security.W018): read it from a variable mapped to {debug} in ${CONFIG_FILE}.`);
    }
    for (const { line, value } of assignments(file, "ALLOWED_HOSTS")) {
      const literal = /^\[\s*((["'][^"']*["']\s*,?\s*)*)\]$/.exec(value);
      if (literal && !ctx.allowedHosts.some((h) => literal[1]!.includes(`"${h}"`) || literal[1]!.includes(`'${h}'`))) {
        error(`${at(file, line)}: ALLOWED_HOSTS is written into the settings (${value}) and lacks the hosts the deploy is reached by (${ctx.allowedHosts.join(", ")}), so Django answers 400: read it from a variable mapped to {allowed_hosts} in ${CONFIG_FILE}.`);
      }
    }
    for (const { line, value } of assignments(file, "SECURE_SSL_REDIRECT")) {
      if (/^True\b/.test(value)) warning(`${at(file, line)}: SECURE_SSL_REDIRECT = True, but these servers speak plain HTTP, so every page redirects to https: turn it on from a variable mapped to {https} in ${CONFIG_FILE}.`);
    }
    for (const { line, value } of assignments(file, "STATICFILES_DIRS")) {
      for (const m of value.matchAll(/BASE_DIR((?:\s*\/\s*["'][^"']+["'])+)/g)) {
        const parts = [...m[1]!.matchAll(/["']([^"']+)["']/g)].map((p) => p[1]!);
        if (!existsSync(join(app, ...parts))) warning(`${at(file, line)}: STATICFILES_DIRS names ${parts.join("/")}, which is not in the repository (built, or ignored by git?): collectstatic skips it and its files 404; commit it or build it before the deploy.`);
      }
    }
  }

  for (const { label, dir } of projectApps(app).filter((a) => a.hasModels && !a.migrations.length)) {
    error(`${relative(project.dir, join(dir, "models.py"))}: app ${label} has models but no migrations, so its tables are never made and its pages answer 500: run \`manage.py makemigrations ${label}\` and commit the migrations.`);
  }
  return problems;
}

/** What preflight prints: what was detected (and from where), what the deploy sets, and each problem. */
export function preflightReport(project: DjangoProject, problems: Problem[]): string {
  const row = (label: string, value: string, source?: string) => `  ${label.padEnd(22)} ${value}${source ? `  (${source})` : ""}`;
  const settings = [...new Set(Object.values(project.settings))].length === 1 ? project.settings.prod : Object.entries(project.settings).map(([e, s]) => `${e}: ${s}`).join(", ");
  const lines = [
    `Project ${project.dir}`,
    row("manage.py in", project.appDir || ".", project.sources.app_dir),
    row("settings module", settings, project.sources.settings),
    row("WSGI application", project.wsgi, project.sources.wsgi),
    row("requirements", project.requirements, project.sources.requirements),
    row("health path", project.health, project.sources.health),
    row("nginx serves", `${project.staticUrl} (static), ${project.mediaUrl} (uploads)`, `${project.sources.static_url}, ${project.sources.media_url}`),
    ...(project.python ? [row("Python asked for", project.python.version, project.python.from)] : []),
    "",
    "The deploy sets, in each environment's file: DATABASE_URL, DJANGO_SETTINGS_MODULE, DJANGO_SECRET_KEY, DJANGO_DEBUG, DJANGO_ALLOWED_HOSTS, DATABASE_HOST/PORT/NAME/USER/PASSWORD",
    ...(Object.keys(project.env.all).length || Object.keys(project.env.byEnv).length
      ? [`and the project's own, from ${CONFIG_FILE}: ${[...new Set([...Object.keys(project.env.all), ...Object.values(project.env.byEnv).flatMap((t) => Object.keys(t!))])].join(", ")}`]
      : []),
    "",
    problems.length ? `${problems.length} problem(s):` : "No problem found.",
    ...problems.map((p) => `  ${p.severity === "error" ? "error:  " : "warning:"} ${p.text}`),
  ];
  return lines.join("\n");
}
