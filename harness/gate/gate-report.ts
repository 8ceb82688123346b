import type { EnvName } from "../domain/envs.ts";

/** One check of the gate: named, timed, and what it saw (the evidence, or the failure's words). */
export interface GateCase {
  env: EnvName | "project";
  name: string;
  status: "passed" | "failed";
  message: string;
  seconds: number;
}

/** One environment in the summary: what it got, the words of each problem, the traffic it saw. */
export interface GateRow {
  env: EnvName;
  outcome: "deployed" | "refused" | "failed" | "not deployed";
  problems: string[];
  requests: number;
  failed: number;
}

export interface GateResult {
  cases: GateCase[];
  rows: GateRow[];
  /** Every environment deployed and every case passed. */
  passed: boolean;
}

/** Runs one check, timing it: a throw is its failure, in the thrown words; a returned string is its evidence. */
export async function caseFor(env: GateCase["env"], name: string, fn: () => Promise<string | void>, now: () => number = Date.now): Promise<GateCase> {
  const started = now();
  try {
    const message = (await fn()) ?? "";
    return { env, name, status: "passed", message, seconds: (now() - started) / 1000 };
  } catch (err) {
    return { env, name, status: "failed", message: (err as Error).message, seconds: (now() - started) / 1000 };
  }
}

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** JUnit, one testsuite per environment (and the project's own), one testcase per check: GitLab's test report reads it. */
export function gateJunit(r: GateResult): string {
  const groups = [...new Set(r.cases.map((c) => c.env))];
  const suites = groups.map((env) => {
    const cases = r.cases.filter((c) => c.env === env);
    const failures = cases.filter((c) => c.status === "failed").length;
    const seconds = cases.reduce((t, c) => t + c.seconds, 0);
    const body = cases.map((c) => {
      const inner = c.status === "failed" ? `<failure message="${xml(c.message.split("\n")[0]!)}">${xml(c.message)}</failure>` : c.message ? `<system-out>${xml(c.message)}</system-out>` : "";
      return `    <testcase classname="gate ${xml(env)}" name="${xml(c.name)}" time="${c.seconds.toFixed(3)}">${inner}</testcase>`;
    });
    return `  <testsuite name="gate ${xml(env)}" tests="${cases.length}" failures="${failures}" time="${seconds.toFixed(3)}">\n${body.join("\n")}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="django-deploy-testbed gate">\n${suites.join("\n")}\n</testsuites>\n`;
}

/** The summary for a person: each environment's outcome, requests and failures, then each problem and each failed check in its words. */
export function gateTable(r: GateResult): string {
  const head = ["env", "outcome", "requests", "failed"];
  const body = r.rows.map((row) => [row.env, row.outcome, String(row.requests), String(row.failed)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const out = [line(head), ...body.map(line)];
  for (const row of r.rows) for (const p of row.problems) out.push(`${row.env}: ${p}`);
  for (const c of r.cases.filter((c) => c.status === "failed")) out.push(`FAIL ${c.env}: ${c.name}: ${c.message}`);
  const failedCases = r.cases.filter((c) => c.status === "failed").length;
  out.push(r.passed ? `gate passed: ${r.rows.length} environments deployed, ${r.cases.length} checks passed` : `gate failed: ${r.rows.filter((x) => x.outcome !== "deployed").map((x) => `${x.env} ${x.outcome}`).join(", ") || "every environment deployed"}; ${failedCases} of ${r.cases.length} checks failed`);
  return `${out.join("\n")}\n`;
}
