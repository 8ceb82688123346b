import type { Environment } from "../core/envs.ts";
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

/** The environment file gunicorn and manage.py read (mode 0600, outside every release). */
export function envFile(env: Environment, secrets: EnvSecrets, dbHost: string, allowedHosts: string[]): string {
  const lines: Record<string, string> = {
    DJANGO_ENV: env.name,
    // Said outright: production never depends on a default for DEBUG.
    DJANGO_DEBUG: env.name === "dev" ? "1" : "0",
    DJANGO_SECRET_KEY: secrets.secretKey,
    DJANGO_ALLOWED_HOSTS: allowedHosts.join(","),
    DATABASE_HOST: dbHost,
    DATABASE_PORT: "5432",
    DATABASE_NAME: env.database,
    DATABASE_USER: env.role,
    DATABASE_PASSWORD: secrets.dbPassword,
    // gunicorn's default for --workers: one template unit, a worker count per environment.
    WEB_CONCURRENCY: String(env.workers),
  };
  return Object.entries(lines).map(([k, v]) => `${k}=${envFileValue(k, v)}`).join("\n") + "\n";
}
