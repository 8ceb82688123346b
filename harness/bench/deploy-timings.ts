import type { JobResult } from "../pipeline/executor.ts";
import { commandTimings } from "../pipeline/job-script.ts";
import { seconds } from "./stats.ts";

export interface DeployTimings {
  job: string;
  totalMs: number;
  containerStartMs: number;
  newMs: number;
  rsyncMs: number;
  venvMs: number;
  /** The one Django process of check, collectstatic and migrate (with its start-up). */
  prepareMs: number;
  checkMs: number;
  collectstaticMs: number;
  migrateMs: number;
  switchMs: number;
  verifyMs: number;
}

/** The same split in seconds, keyed `totalS`, `venvS`...: how the bench reports it. */
export function inSeconds(d: DeployTimings): Record<string, string | number> {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k.replace(/Ms$/, "S"), typeof v === "number" ? seconds(v) : v]));
}

/**
 * Splits a deploy job's time by the release tool's commands, read from the log's timestamps; the
 * Django steps inside `prepare` by the tool's own "<step> done in N s" lines.
 */
export function deployTimings(job: JobResult): DeployTimings {
  const t = commandTimings(job.log);
  const step = (name: string) => t.filter((c) => new RegExp(`-release \\w+ ${name}\\b`).test(c.command)).reduce((s, c) => s + c.ms, 0);
  const django = (name: string) => [...job.log.matchAll(new RegExp(`: ${name} done in (\\d+(?:\\.\\d+)?) s`, "g"))].reduce((s, m) => s + Math.round(Number(m[1]) * 1000), 0);
  return {
    job: job.name,
    totalMs: job.durationMs,
    containerStartMs: job.startMs,
    newMs: step("new"),
    rsyncMs: t.filter((c) => c.command.startsWith("rsync ")).reduce((s, c) => s + c.ms, 0),
    venvMs: step("venv"),
    prepareMs: step("prepare"),
    checkMs: django("check"),
    collectstaticMs: django("collectstatic"),
    migrateMs: django("migrate"),
    switchMs: step("switch"),
    verifyMs: step("verify"),
  };
}
