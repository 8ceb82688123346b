import { lastLines } from "../plumbing/log.ts";
import { sh } from "../shell/quote.ts";

/**
 * The bash a GitLab Runner's shell would run for a job: `set -eo pipefail`, each command echoed
 * as `$ command` before it runs (multi-line ones collapsed), with a section marker carrying the
 * time, so durations can be read back from the log.
 */
export function jobScript(commands: string[], projectDir: string): string {
  // The end mark is printed on exit, so the command that fails a job has its duration too (the
  // trap keeps the job's exit status).
  const lines = ["set -eo pipefail", `trap 'printf "section_end:%s:steps\\r\\033[0K" "$(date +%s.%N)"' EXIT`, sh`cd ${projectDir}`];
  commands.forEach((command, i) => {
    const first = command.split("\n")[0]!;
    const shown = command.includes("\n") ? `${first} # collapsed multi-line command` : first;
    lines.push(`printf 'section_start:%s:step_${i}\\r\\033[0K' "$(date +%s.%N)"`);
    lines.push(sh`printf '\\033[32;1m$ %s\\033[0;m\\n' ${shown}`);
    lines.push(command);
  });
  return lines.join("\n") + "\n";
}

export interface CommandTiming {
  command: string;
  ms: number;
}

/** Reads each echoed command's duration back from a job log's section markers. */
export function commandTimings(log: string): CommandTiming[] {
  const marks = [...log.matchAll(/section_(?:start|end):(\d+(?:\.\d+)?):(\w+)\r\x1b\[0K(?:\x1b\[32;1m\$ ([^\n]*?)\x1b\[0;m)?/g)];
  const out: CommandTiming[] = [];
  for (let i = 0; i + 1 < marks.length; i++) {
    const m = marks[i]!;
    if (m[3] === undefined) continue;
    out.push({ command: m[3], ms: Math.round((Number(marks[i + 1]![1]) - Number(m[1])) * 1000) });
  }
  return out;
}

/** The log with section markers and colours removed, as a person reads it. */
export function plainLog(log: string): string {
  return log.replace(/section_(?:start|end):[^\r]*\r\x1b\[0K/g, "").replace(/\x1b\[[0-9;]*m/g, "");
}

/** Lines of a job log that explain an outcome by themselves, with what each means. */
const TELLING_LINES: ReadonlyArray<[RegExp, string]> = [
  [/^.*Permanently added .* to the list of known hosts.*$/m, "ssh trusted a host key it was not given (StrictHostKeyChecking is not yes)"],
  [/^.*REMOTE HOST IDENTIFICATION HAS CHANGED.*$/m, "the server's host key is not the one in SSH_KNOWN_HOSTS"],
  [/^.*authentication is disabled to avoid man-in-the-middle attacks.*$/m, "ssh went on despite the changed host key (StrictHostKeyChecking is not yes)"],
  [/^\*deleting\s+\S*env\/?$/m, "rsync --delete removed the release's venv link"],
  [/^.*: has no venv: .*$/m, "the release's venv is gone"],
  [/^.*Load key .*: (?:invalid format|error in libcrypto).*$/m, "ssh cannot read the deploy key as written (CRLF line endings, a truncated key?)"],
];

/** The telling lines of a job log, quoted, for the top of an assertion message; empty if none. */
export function tellingLines(log: string): string {
  const plain = plainLog(log);
  const found = TELLING_LINES.flatMap(([re, meaning]) => {
    const m = re.exec(plain);
    return m ? [`  ${meaning}: "${m[0].trim()}"`] : [];
  });
  return found.length ? `What the log says:\n${found.join("\n")}\n` : "";
}

/** A job as a message names it: its name and status, and its log's last lines as a person reads them. */
export function jobTail(job: { name: string; status: string; log: string } | undefined, lines = 20): string {
  return job ? `job ${job.name} ${job.status}:\n${lastLines(plainLog(job.log), lines)}` : "no job ran";
}
