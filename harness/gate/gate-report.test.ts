import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { caseFor, gateJunit, gateTable, type GateResult } from "./gate-report.ts";

const result = (over: Partial<GateResult> = {}): GateResult => ({
  cases: [
    { env: "dev", name: "deploy through the generated pipeline", status: "passed", message: "", seconds: 3.2 },
    { env: "prod", name: "preflight: the settings, as Django evaluates them", status: "failed", message: "prod: notes/settings.py:11: DEBUG is on\nand more", seconds: 0.1 },
  ],
  rows: [
    { env: "dev", outcome: "deployed", problems: [], requests: 120, failed: 0 },
    { env: "prod", outcome: "refused", problems: ["error: notes/settings.py:11: DEBUG is on"], requests: 0, failed: 0 },
  ],
  passed: false,
  ...over,
});

describe("the gate's report", () => {
  it("times each check, and takes a throw as its failure in the thrown words", async () => {
    let t = 0;
    const now = () => (t += 500);
    expect(await caseFor("dev", "works", async () => "evidence", now)).toEqual({ env: "dev", name: "works", status: "passed", message: "evidence", seconds: 0.5 });
    expect(await caseFor("prod", "breaks", async () => { throw new Error("the words"); }, now)).toMatchObject({ status: "failed", message: "the words" });
  });

  it("writes JUnit that a parser reads: a suite per environment, a case per check, the failure's first line as its message", () => {
    const doc = new XMLParser({ ignoreAttributes: false }).parse(gateJunit(result())) as { testsuites: { testsuite: Array<{ "@_name": string; "@_failures": string; testcase: { "@_name": string; failure?: { "@_message": string } } }> } };
    const suites = doc.testsuites.testsuite;
    expect(suites.map((s) => [s["@_name"], s["@_failures"]])).toEqual([["gate dev", "0"], ["gate prod", "1"]]);
    expect(suites[1]!.testcase.failure!["@_message"]).toBe("prod: notes/settings.py:11: DEBUG is on");
  });

  it("tables each environment's outcome, requests and failures, then each problem and failed check, and says why it failed", () => {
    const text = gateTable(result());
    expect(text.split("\n").slice(0, 3)).toEqual(["env   outcome   requests  failed", "dev   deployed  120       0", "prod  refused   0         0"]);
    expect(text).toContain("prod: error: notes/settings.py:11: DEBUG is on\n");
    expect(text).toContain("FAIL prod: preflight: the settings, as Django evaluates them: prod: notes/settings.py:11: DEBUG is on");
    expect(text).toMatch(/gate failed: prod refused; 1 of 2 checks failed\n$/);
    expect(gateTable(result({ passed: true, cases: [], rows: [] }))).toMatch(/gate passed/);
  });
});
