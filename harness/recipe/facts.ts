import type { DeploymentConfig, Environment } from "../core/envs.ts";
import type { Runner } from "../shell/command.ts";
import { sh } from "../shell/quote.ts";
import { releaseToolPath } from "./release.ts";

/** What the live release's own Django connects to and would change (release-django.py's `facts`). */
export interface DjangoFacts {
  vendor: string;
  database: string;
  user: string;
  debug: boolean;
  /** Migrations of the live release that the database lacks (`migrate --check` would fail). */
  unapplied: string[];
  static_root: string;
  settings: string;
}

/** `<project>-release ENV facts`: read-only, as the deploy user; what the server says, not what we wrote. */
export interface ReleaseFacts {
  environment: string;
  live: string | null;
  commit: string | null;
  ready: boolean;
  /** null: nothing is live; `error`: the release's Django could not start or reach its database. */
  django: DjangoFacts | { error: string } | null;
}

export async function releaseFacts(server: Runner, config: DeploymentConfig, env: Environment, as: string): Promise<ReleaseFacts> {
  const r = await server.run(sh`${releaseToolPath(config)} ${env.name} facts`, { as });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as ReleaseFacts;
  } catch {
    throw new Error(`${server.where}: \`${releaseToolPath(config)} ${env.name} facts\` printed no JSON:\n${r.output.slice(-2000)}`);
  }
}

/** The Django facts, or an error naming why the live release's Django could not give them. */
export function djangoFacts(facts: ReleaseFacts): DjangoFacts {
  if (!facts.django) throw new Error(`${facts.environment}: nothing is live, so no release's Django can be asked`);
  if ("error" in facts.django) throw new Error(`${facts.environment}: the live release ${facts.live}'s Django could not report: ${facts.django.error}`);
  return facts.django;
}
