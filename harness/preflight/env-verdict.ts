import type { EnvName, Environment } from "../domain/envs.ts";
import { CONFIG_FILE } from "../project/detect.ts";
import type { Problem } from "../project/problems.ts";

/**
 * What preflight makes of each environment's evaluation (evaluate.ts): its problems in words, each
 * with the file and line that last set the setting it is about, and whether the environment may be
 * deployed. An error refuses that environment only; warnings are reported. The policy itself (DEBUG
 * by tier, the database, ALLOWED_HOSTS, Django's checks, migrations) is release_settings.py's, the
 * same the release tool applies on the server: this file only words it.
 */

/** One problem as release_settings.py judges it. */
export interface JudgedProblem {
  severity: "error" | "warning";
  /** The setting it is about ("DEBUG"), or "" for a check or an app. */
  setting: string;
  text: string;
  /** The file and line that last set the setting, relative to the repository, when a line of the project did. */
  where?: string | null;
}

/** What release_preflight.py answers: the settings' facts and problems, or why they did not load. */
export type Evaluated =
  | { facts: Record<string, unknown>; problems: JudgedProblem[]; error?: undefined }
  | { error: { type: string; message: string; where: string | null; variable: string | null }; facts?: undefined; problems?: undefined };

export type EnvEvaluation = Evaluated & { env: EnvName; tier: Environment["tier"]; settings: string };

export interface EnvVerdict {
  env: EnvName;
  /** allowed: nothing stops a deploy (there may be warnings); refused: an error does. */
  outcome: "allowed" | "refused";
  problems: Problem[];
}

/** Where in the repository a path inside the evaluation's copy of it is. */
const located = (where: string | null | undefined, text: string) => (where ? `${where}: ${text}` : text);

export function verdict(e: EnvEvaluation): EnvVerdict {
  if (e.error) {
    const { type, message, where, variable } = e.error;
    const fix = variable
      ? `the deploy does not set ${variable}: map it in ${CONFIG_FILE}, under [env] for every environment or [env.${e.env}] for this one (e.g. ${variable} = "{secret_key}"), from the values the deploy knows`
      : "make the settings load with the environment's variables (see what the deploy sets, in the README)";
    const text = located(where, `importing ${e.settings} with ${e.env}'s environment raised ${type}: ${message}; ${fix}`);
    return { env: e.env, outcome: "refused", problems: [{ severity: "error", text: `${e.env}: ${text}` }] };
  }
  const problems = e.problems.map((p): Problem => ({ severity: p.severity, text: `${e.env}: ${located(p.where, p.text)}` }));
  return { env: e.env, outcome: problems.some((p) => p.severity === "error") ? "refused" : "allowed", problems };
}

/** The environments preflight allows, in the order given. */
export const allowedEnvs = (verdicts: EnvVerdict[]): EnvName[] => verdicts.filter((v) => v.outcome === "allowed").map((v) => v.env);
