import type { JobResult } from "../pipeline/executor.ts";
import { commandTimings } from "../pipeline/job-script.ts";

export interface DeployTimings {
  job: string;
  totalMs: number;
  containerStartMs: number;
  rsyncMs: number;
  pipMs: number;
  migrateMs: number;
  collectstaticMs: number;
  restartMs: number;
}

/** Splits a deploy job's time by what its commands do, read from the log's timestamps. */
export function deployTimings(job: JobResult): DeployTimings {
  const t = commandTimings(job.log);
  const sum = (re: RegExp) => t.filter((c) => re.test(c.command)).reduce((s, c) => s + c.ms, 0);
  return {
    job: job.name,
    totalMs: job.durationMs,
    containerStartMs: job.startMs,
    rsyncMs: sum(/^rsync /),
    pipMs: sum(/pip install/),
    migrateMs: sum(/manage\.py migrate/),
    collectstaticMs: sum(/manage\.py collectstatic/),
    restartMs: sum(/systemctl (restart|status) gunicorn@/),
  };
}
