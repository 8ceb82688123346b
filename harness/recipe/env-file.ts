import type { Environment } from "../envs.ts";

export interface EnvSecrets {
  secretKey: string;
  dbPassword: string;
}

/** The environment file gunicorn and manage.py read (mode 0600, outside the rsync tree). */
export function envFile(env: Environment, secrets: EnvSecrets, dbHost: string, allowedHosts: string[]): string {
  const lines: Record<string, string> = {
    DJANGO_ENV: env.name,
    DJANGO_SECRET_KEY: secrets.secretKey,
    DJANGO_ALLOWED_HOSTS: allowedHosts.join(","),
    DATABASE_HOST: dbHost,
    DATABASE_PORT: "5432",
    DATABASE_NAME: env.database,
    DATABASE_USER: env.role,
    DATABASE_PASSWORD: secrets.dbPassword,
  };
  return Object.entries(lines).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}
