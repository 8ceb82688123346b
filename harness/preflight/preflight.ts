import type { Environment } from "../domain/envs.ts";
import type { Logger } from "../plumbing/log.ts";
import type { DjangoProject } from "../project/detect.ts";
import { preflightReport, projectWarnings, type Problem } from "../project/problems.ts";
import { evaluateProject } from "./evaluate.ts";
import { verdict, type EnvVerdict } from "./env-verdict.ts";

/**
 * Preflight, the one evaluation that `sandbox -- check`, a deploy's first step, the gate and the
 * observing specs share: each environment's settings judged by the project's own Django (in a
 * container with no network), the Python the repository asks for, and the requirements the package
 * index must serve. An environment with an error is refused; the others are not.
 */
export interface PreflightResult {
  verdicts: EnvVerdict[];
  /** Every problem, each environment's first, then the repository's own. */
  problems: Problem[];
  report: string;
}

export interface PreflightOptions {
  /** The app server's image: its Python is the servers'. */
  image: string;
  envs: Environment[];
  allowedHosts: string[];
  https?: boolean;
  /** The servers' Python ("3.11"), for the repository's own runtime.txt or .python-version. */
  serverPython?: string;
  log: Logger;
}

export async function preflightProject(project: DjangoProject, opts: PreflightOptions): Promise<PreflightResult> {
  const evaluation = await evaluateProject(project, opts);
  // No environment can install what the package index cannot serve: each is refused, naming the line
  // (the rest was installed, so the settings are judged all the same).
  const unservable = evaluation.unservable.map((r) => `${r.where}: ${r.line}: the package index cannot serve it: change that line, or add the package to the index.`);
  const verdicts = evaluation.envs.map((e): EnvVerdict => {
    const v = verdict(e);
    if (!unservable.length) return v;
    return { ...v, outcome: "refused", problems: [...unservable.map((text): Problem => ({ severity: "error", text: `${e.env}: ${text}` })), ...v.problems] };
  });
  const problems = [...verdicts.flatMap((v) => v.problems), ...(opts.serverPython ? projectWarnings(project, opts.serverPython) : [])];
  const outcomes = verdicts.map((v) => ({ env: v.env, outcome: v.outcome === "refused" ? "refused" : v.problems.length ? `allowed (${v.problems.length} warning${v.problems.length > 1 ? "s" : ""})` : "allowed" }));
  return { verdicts, problems, report: preflightReport(project, problems, outcomes) };
}

/** The refused environments' errors, for a message that stops a deploy. */
export function refusals(result: PreflightResult, envs: ReadonlyArray<string>): Problem[] {
  return result.verdicts.filter((v) => envs.includes(v.env) && v.outcome === "refused").flatMap((v) => v.problems.filter((p) => p.severity === "error"));
}
