import type { CheckResult, VerifyReport } from "./verify.ts";

/** verify's output for a person (a table), and for a CI (JUnit; JSON is the report itself). */

const MARK: Record<CheckResult["status"], string> = { passed: "ok  ", failed: "FAIL", skipped: "skip" };

/** Each check on a line; under a failure, what was seen, what was expected and what to look at. */
export function reportTable(r: VerifyReport): string {
  const lines = [`${r.environment}: live ${r.live ?? "nothing"}${r.commit ? ` (${r.commit.slice(0, 8)})` : ""}`];
  for (const c of r.results) {
    lines.push(`  ${MARK[c.status]} ${c.id}: ${c.sentence}`);
    if (c.status !== "passed") lines.push(`       seen: ${c.seen}`);
    if (c.status === "failed") lines.push(`       expected ${c.expects}; look at ${c.lookAt}`);
  }
  const failed = r.results.filter((c) => c.status === "failed").length;
  lines.push(failed ? `${r.environment}: ${failed} of ${r.results.length} checks failed` : `${r.environment}: all ${r.results.filter((c) => c.status === "passed").length} checks passed`);
  return `${lines.join("\n")}\n`;
}

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** One testsuite per environment, one testcase per check: GitLab's test report reads it. */
export function reportJunit(reports: VerifyReport[]): string {
  const suites = reports.map((r) => {
    const name = `verify ${r.environment}`;
    const cases = r.results.map((c) => {
      const body = c.status === "failed" ? `<failure message="${xml(c.seen)}">${xml(`expected ${c.expects}; look at ${c.lookAt}`)}</failure>` : c.status === "skipped" ? "<skipped/>" : "";
      return `    <testcase classname="${xml(name)}" name="${xml(`${c.id}: ${c.sentence}`)}">${body}</testcase>`;
    });
    const count = (s: CheckResult["status"]) => r.results.filter((c) => c.status === s).length;
    return `  <testsuite name="${xml(name)}" tests="${r.results.length}" failures="${count("failed")}" skipped="${count("skipped")}">\n${cases.join("\n")}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${suites.join("\n")}\n</testsuites>\n`;
}
