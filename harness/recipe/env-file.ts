import type { Environment } from "../domain/envs.ts";
import { envValues, renderTemplate } from "../project/contract.ts";
import { CONFIG_FILE, type DjangoProject } from "../project/detect.ts";
import type { EnvSecrets } from "./secrets.ts";

/**
 * One value in double quotes, escaped so that systemd's EnvironmentFile= (gunicorn), the release
 * tool (manage.py) and even a shell's `.` read the same bytes: inside double quotes all three
 * take `\\`, `\"`, `` \` `` and `\$` as escapes, and systemd never expands `$`.
 */
export function envFileValue(key: string, value: string): string {
  if (/[\n\r\0]/.test(value)) throw new Error(`environment file: ${key} contains a line break or NUL, which an environment file cannot hold`);
  return `"${value.replace(/[\\"`$]/g, "\\$&")}"`;
}

/** What the environment file needs of the project: its settings modules, WSGI application and variables. */
export type EnvFileProject = Pick<DjangoProject, "settings" | "wsgi" | "env">;

/**
 * The environment file gunicorn and manage.py read (mode 0600, outside every release). It always
 * holds DATABASE_URL, DJANGO_SETTINGS_MODULE and the harness's own DJANGO_* and DATABASE_* names;
 * then the project's own variables, from its deploy-testbed.toml `[env]` templates (contract.ts),
 * for every environment and then for this one, which win.
 */
export function envFile(env: Environment, secrets: EnvSecrets, dbHost: string, allowedHosts: string[], project: EnvFileProject, https = false): string {
  return Object.entries(envFileEntries(env, secrets, dbHost, allowedHosts, project, https)).map(([k, v]) => `${k}=${envFileValue(k, v)}`).join("\n") + "\n";
}

/** The environment file's variables and values, unquoted: what gunicorn and manage.py see (and preflight gives Django). */
export function envFileEntries(env: Environment, secrets: EnvSecrets, dbHost: string, allowedHosts: string[], project: EnvFileProject, https = false): Record<string, string> {
  const values = envValues(env, { dbHost, dbPassword: secrets.dbPassword, secretKey: secrets.secretKey, allowedHosts, settings: project.settings[env.name], https });
  const lines: Record<string, string> = {
    DJANGO_ENV: env.name,
    DJANGO_SETTINGS_MODULE: values.settings,
    // Said outright: production never depends on a default for DEBUG.
    DJANGO_DEBUG: values.debug ? "1" : "0",
    DJANGO_SECRET_KEY: secrets.secretKey,
    DJANGO_ALLOWED_HOSTS: allowedHosts.join(","),
    // People reach it over HTTPS at a proxy in front of nginx (the deployment's `https`).
    DJANGO_HTTPS: values.https ? "1" : "0",
    DATABASE_URL: values.database_url,
    DATABASE_HOST: dbHost,
    DATABASE_PORT: values.db_port,
    DATABASE_NAME: env.database,
    DATABASE_USER: env.role,
    DATABASE_PASSWORD: secrets.dbPassword,
    // gunicorn's default for --workers: one template unit, a worker count per environment.
    WEB_CONCURRENCY: String(env.workers),
    // The project's application, which the release tool's wrapper (release_wsgi.py) serves.
    RELEASE_WSGI: project.wsgi,
    // Whether people reach it over HTTPS: without, production's check tolerates the HTTPS-only warnings.
    RELEASE_HTTPS: values.https ? "1" : "0",
  };
  for (const [table, templates] of [["[env]", project.env.all], [`[env.${env.name}]`, project.env.byEnv[env.name] ?? {}]] as const) {
    for (const [key, template] of Object.entries(templates)) lines[key] = renderTemplate(template, values, `${CONFIG_FILE} ${table} ${key}`);
  }
  return lines;
}
