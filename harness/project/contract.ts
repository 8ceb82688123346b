import type { Environment } from "../domain/envs.ts";

/**
 * The environment contract: what the recipe knows of each environment, by name. A project's config
 * maps these onto the variables and formats its settings read (`SQL_HOST = "{db_host}"`,
 * `DEBUG = "{debug:True|False}"`, `ALLOWED_HOSTS = "{allowed_hosts: }"`). Secrets stay on the
 * server: the config names them, the recipe fills them in.
 */
export interface EnvValues {
  env: string;
  db_host: string;
  db_port: string;
  db_name: string;
  db_user: string;
  db_password: string;
  /** postgres://user:password@host:port/name, user and password percent-encoded. */
  database_url: string;
  secret_key: string;
  /** On in dev only. */
  debug: boolean;
  allowed_hosts: string[];
  /** The settings module this environment runs (DJANGO_SETTINGS_MODULE). */
  settings: string;
  /** Whether people reach the site over HTTPS (a TLS terminator in front of nginx). */
  https: boolean;
  /** The environment's uploads, outside every release (for a project that reads MEDIA_ROOT from a variable). */
  media_root: string;
}

export const CONTRACT_NAMES: ReadonlyArray<keyof EnvValues> = ["env", "db_host", "db_port", "db_name", "db_user", "db_password", "database_url", "secret_key", "debug", "allowed_hosts", "settings", "https", "media_root"];

export class ContractError extends Error {
  override name = "ContractError";
}

export function databaseUrl(v: { db_user: string; db_password: string; db_host: string; db_port: string; db_name: string }): string {
  return `postgres://${encodeURIComponent(v.db_user)}:${encodeURIComponent(v.db_password)}@${v.db_host}:${v.db_port}/${encodeURIComponent(v.db_name)}`;
}

/**
 * One value from a template: `{name}` or `{name:format}` is replaced, the rest is literal (`{{` and
 * `}}` for braces). A boolean's format is `on|off` (default `True|False`); a list's is its separator
 * (default `,`). `where` names the template for a message ("deploy-testbed.toml [env] DEBUG").
 */
export function renderTemplate(template: string, values: EnvValues, where: string): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (whole, inner: string | undefined) => {
    if (whole === "{{") return "{";
    if (whole === "}}") return "}";
    const [name, ...rest] = inner!.split(":");
    const format = rest.length ? rest.join(":") : undefined;
    if (!(CONTRACT_NAMES as string[]).includes(name!)) {
      throw new ContractError(`${where}: {${inner}} is not a value the recipe knows; use one of ${CONTRACT_NAMES.map((n) => `{${n}}`).join(", ")}`);
    }
    const value = values[name as keyof EnvValues];
    if (typeof value === "boolean") {
      const [on, off] = (format ?? "True|False").split("|");
      if (on === undefined || off === undefined) throw new ContractError(`${where}: {${inner}}: a yes/no value's format is ON|OFF, e.g. {${name}:1|0}`);
      return value ? on : off;
    }
    if (Array.isArray(value)) return value.join(format ?? ",");
    if (format !== undefined) throw new ContractError(`${where}: {${inner}}: ${name} takes no format`);
    return value;
  });
}

/** The contract's values for one environment, from the table and what the recipe made for it. */
export function envValues(env: Environment, o: { dbHost: string; dbPassword: string; secretKey: string; allowedHosts: string[]; settings: string; https?: boolean }): EnvValues {
  const db = { db_host: o.dbHost, db_port: "5432", db_name: env.database, db_user: env.role, db_password: o.dbPassword };
  return {
    env: env.name,
    ...db,
    database_url: databaseUrl(db),
    secret_key: o.secretKey,
    debug: env.name === "dev",
    allowed_hosts: o.allowedHosts,
    settings: o.settings,
    https: o.https ?? false,
    media_root: env.media,
  };
}
