import { randomBytes } from "node:crypto";
import type { EnvName } from "../core/envs.ts";
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
