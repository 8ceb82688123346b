import { XMLParser } from "fast-xml-parser";
import type { Fault } from "./catalogue.ts";

export type Verdict = "caught" | "caught-vague" | "missed";

export interface FaultResult {
  id: string;
  description: string;
  where: Fault["where"];
  verdict: Verdict;
  /** The first failed test ("file > describe > test"), if any. */
  test?: string;
  /** Its message up to the attached diagnostics: what a person reads first. */
  message?: string;
  words: string[];
  /** Words the message lacks (empty when caught). */
  missingWords: string[];
  tests: { passed: number; failed: number; skipped: number };
  durationMs: number;
}

interface Case {
  name: string;
  classname: string;
  failure?: { message?: string; text?: string };
  skipped?: unknown;
}

/** The test cases of a vitest JUnit report, in the report's order. */
export function junitCases(xml: string): Case[] {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", textNodeName: "text", isArray: (name) => name === "testsuite" || name === "testcase" }).parse(xml);
  const suites = (doc.testsuites?.testsuite ?? []) as Array<{ testcase?: Array<Record<string, unknown>> }>;
  return suites.flatMap((s) => s.testcase ?? []).map((c) => {
    const failure = (c.failure ?? c.error) as Case["failure"] | string | undefined;
    return {
      name: String(c.name),
      classname: String(c.classname),
      failure: typeof failure === "string" ? { text: failure } : failure,
      skipped: c.skipped,
    };
  });
}

/** Passed, failed and skipped cases, as a JUnit reader counts them (a failure outranks a skip mark). */
export function caseCounts(cases: Case[]): { passed: number; failed: number; skipped: number } {
  const failed = cases.filter((c) => c.failure).length;
  const skipped = cases.filter((c) => c.skipped !== undefined && !c.failure).length;
  return { passed: cases.length - failed - skipped, failed, skipped };
}

/** The part of a failure message that names the cause: the diagnostics appended after it do not count. */
export function causeOf(message: string): string {
  return message.split(/\n\s*Diagnostics from (?:the snapshot )?testbed /)[0]!.trim();
}

/**
 * Caught: a test failed and its message names the fault's words. Caught but vague: a test failed,
 * without them. Missed: nothing failed. The global setup's own test comes first when it failed.
 */
export function verdictOf(fault: Fault, xml: string, durationMs: number): FaultResult {
  const cases = junitCases(xml);
  const failed = cases.filter((c) => c.failure);
  const first = failed.find((c) => c.classname.endsWith("setup.test.ts")) ?? failed[0];
  const tests = caseCounts(cases);
  const base = { id: fault.id, description: fault.description, where: fault.where, words: fault.words, tests, durationMs };
  if (!first) return { ...base, verdict: "missed", missingWords: fault.words };
  const message = causeOf(first.failure?.message ?? first.failure?.text ?? "");
  const missingWords = fault.words.filter((w) => !message.toLowerCase().includes(w.toLowerCase()));
  return { ...base, verdict: missingWords.length ? "caught-vague" : "caught", test: `${first.classname} > ${first.name}`, message, missingWords };
}

export interface FaultsReport {
  generatedAt: string;
  faults: number;
  caught: number;
  vague: number;
  missed: number;
  /** Caught with their words, over all faults run. */
  killRate: number;
  /** Any fault that was caught at all, vague or not. */
  detectionRate: number;
  baseline?: { passed: number; failed: number; skipped: number; durationMs: number };
  results: FaultResult[];
}

export function faultsReport(results: FaultResult[], baseline?: FaultsReport["baseline"], now = new Date()): FaultsReport {
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  const n = Math.max(results.length, 1);
  return {
    generatedAt: now.toISOString(),
    faults: results.length,
    caught: count("caught"),
    vague: count("caught-vague"),
    missed: count("missed"),
    killRate: count("caught") / n,
    detectionRate: (count("caught") + count("caught-vague")) / n,
    ...(baseline ? { baseline } : {}),
    results,
  };
}

/** The table `npm run faults` prints. */
export function faultsTable(report: FaultsReport): string {
  const rows = report.results.map((r) => [r.id, r.where, r.verdict, `${Math.round(r.durationMs / 1000)} s`, r.verdict === "caught-vague" ? `lacks: ${r.missingWords.join(", ")}` : (r.test ?? "no test failed").replace(/^.*specs\/e2e\//, "")]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 5));
  const lines = rows.map((r) => r.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c)).join("  "));
  const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
  return [...lines, `kill rate ${pct(report.killRate)}: ${report.caught} caught, ${report.vague} caught but vague, ${report.missed} missed, of ${report.faults}`].join("\n");
}
