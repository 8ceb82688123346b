import type { Environment } from "../domain/envs.ts";

export const HBA_BEGIN = "# BEGIN django-deploy-testbed";
export const HBA_END = "# END django-deploy-testbed";

/** Each environment's role may open its own database, from the app server's address only. */
export function pgHbaBlock(envs: Environment[], appServerAddress: string): string {
  const rows = envs.map((e) => `host    ${e.database.padEnd(20)} ${e.role.padEnd(20)} ${appServerAddress}/32    scram-sha-256`);
  return [HBA_BEGIN, ...rows, HBA_END].join("\n") + "\n";
}

/** Replaces (or appends) the managed block, leaving the rest of pg_hba.conf as it was. */
export function withHbaBlock(current: string, block: string): string {
  const start = current.indexOf(HBA_BEGIN);
  const end = current.indexOf(HBA_END);
  if (start >= 0 && end > start) {
    return current.slice(0, start) + block + current.slice(end + HBA_END.length).replace(/^\n/, "");
  }
  return current.replace(/\n*$/, "\n") + block;
}
