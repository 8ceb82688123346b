import { CONFIG_FILE, type DjangoProject } from "./detect.ts";

/**
 * A problem preflight found, in one sentence: where (the environment, the file and line), what is
 * wrong, and what to change. An error stops a deploy of its environment; a warning is reported.
 * What the settings hold is judged by the project's own Django (harness/preflight/): nothing here
 * reads a settings file as text. The requirements are checked by the wheelhouse, which names the
 * line the package index cannot serve.
 */
export interface Problem {
  severity: "error" | "warning";
  text: string;
}

/** What the repository itself says, outside its settings: the Python it asks for. */
export function projectWarnings(project: DjangoProject, serverPython: string): Problem[] {
  if (!project.python || project.python.version === serverPython) return [];
  return [{ severity: "warning", text: `${project.python.from} asks for Python ${project.python.version}, but the servers run Python ${serverPython}: test the project on ${serverPython}, or change ${project.python.from}.` }];
}

/** What preflight prints: what was detected (and from where), what the deploy sets, each environment's outcome and each problem. */
export function preflightReport(project: DjangoProject, problems: Problem[], outcomes: Array<{ env: string; outcome: string }> = []): string {
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
    ...(outcomes.length ? ["", `Judged by the project's own Django, per environment: ${outcomes.map((o) => `${o.env} ${o.outcome}`).join(", ")}`] : []),
    "",
    problems.length ? `${problems.length} problem(s):` : "No problem found.",
    ...problems.map((p) => `  ${p.severity === "error" ? "error:  " : "warning:"} ${p.text}`),
  ];
  return lines.join("\n");
}
