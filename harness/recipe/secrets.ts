import { randomBytes } from "node:crypto";
import type { EnvName } from "../domain/envs.ts";
import { sh } from "../shell/quote.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";

export interface EnvSecrets {
  secretKey: string;
  dbPassword: string;
}

const made = new WeakMap<StartedTestbed, Record<EnvName, EnvSecrets>>();

/**
 * Each environment's Django secret key and database password for a testbed, made once (on first
 * use) and kept for the testbed's life, so that running the recipe again changes nothing. They
 * belong to the recipe, not to the servers: the testbed layer never sees them.
 */
export function secretsOf(tb: StartedTestbed): Record<EnvName, EnvSecrets> {
  let secrets = made.get(tb);
  if (!secrets) {
    const token = (n: number) => randomBytes(n).toString("base64url");
    secrets = Object.fromEntries(tb.envs.map((e) => [e.name, { secretKey: token(40), dbPassword: token(18) }])) as Record<EnvName, EnvSecrets>;
    made.set(tb, secrets);
  }
  return secrets;
}

/** Sets a testbed's secrets before the recipe provisions it (a spec's hostile ones, say). */
export function useSecrets(tb: StartedTestbed, secrets: Record<EnvName, EnvSecrets>): void {
  made.set(tb, secrets);
}

/** An environment's database password, for probes that connect as the app does. */
export const dbPassword = (tb: StartedTestbed, env: EnvName) => secretsOf(tb)[env].dbPassword;

/** Whether this process already knows the testbed's secrets (it made them, or was given them). */
export const knowsSecrets = (tb: StartedTestbed): boolean => made.has(tb);

/**
 * The values of an environment file as env-file.ts writes them: `KEY="value"`, with `\\`, `\"`,
 * `` \` `` and `\$` escaped inside the double quotes.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)="(.*)"$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/\\([\\"`$])/g, "$1");
  }
  return out;
}

/**
 * Takes on the secrets the servers hold (another process made them: a sandbox, from a later
 * command), read from each environment file, so that running the recipe again renews nothing: a
 * new database password under a running gunicorn fails its next connection.
 */
export async function adoptServerSecrets(tb: StartedTestbed): Promise<void> {
  const secrets = await Promise.all(
    tb.envs.map(async (e) => {
      const file = await tb.app.exec.run(sh`cat ${e.envFile}`, { allowFailure: true });
      const values = parseEnvFile(file.stdout);
      return [e.name, values.DJANGO_SECRET_KEY && values.DATABASE_PASSWORD ? { secretKey: values.DJANGO_SECRET_KEY, dbPassword: values.DATABASE_PASSWORD } : undefined] as const;
    }),
  );
  // All or none: an environment never provisioned gets new ones, like every other on a fresh server.
  if (secrets.every(([, s]) => s)) useSecrets(tb, Object.fromEntries(secrets) as Record<EnvName, EnvSecrets>);
}
