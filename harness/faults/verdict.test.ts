import { describe, expect, it } from "vitest";
import { FAULTS } from "./catalogue.ts";
import { causeOf, faultsReport, faultsTable, verdictOf } from "./verdict.ts";

const fault = FAULTS.find((f) => f.id === "no-partof")!;
const junit = (cases: string) => `<?xml version="1.0" encoding="UTF-8" ?>
<testsuites name="vitest tests" tests="2" failures="1" errors="0" time="1">
  <testsuite name="specs/e2e/setup.test.ts" tests="1"><testcase classname="specs/e2e/setup.test.ts" name="global setup &gt; built the images" time="0"></testcase></testsuite>
  <testsuite name="specs/e2e/recipe-environments.test.ts" tests="2">${cases}</testsuite>
</testsuites>`;
const failing = (message: string) => `<testcase classname="specs/e2e/recipe-environments.test.ts" name="gunicorn.target &gt; stop" time="1"><failure message="${message}" type="Error">stack</failure></testcase>`;
const skipped = `<testcase classname="specs/e2e/recipe-environments.test.ts" name="other" time="0"><skipped/></testcase>`;

describe("a fault's verdict from the JUnit report", () => {
  it("caught: a test failed and its message has every word", () => {
    const r = verdictOf(fault, junit(failing("gunicorn@dev outlived the stop. PartOf= is empty") + skipped), 1000);
    expect(r).toMatchObject({ verdict: "caught", test: "specs/e2e/recipe-environments.test.ts > gunicorn.target > stop", missingWords: [], tests: { passed: 1, failed: 1, skipped: 1 } });
  });

  it("caught but vague: a test failed without the words; words only in the diagnostics do not count", () => {
    const r = verdictOf(fault, junit(failing("timed out after 15 s\n\nDiagnostics from testbed abc:\nPartOf=gunicorn.target")), 1000);
    expect(r).toMatchObject({ verdict: "caught-vague", missingWords: ["PartOf"] });
  });

  it("missed: nothing failed", () => {
    expect(verdictOf(fault, junit(skipped), 1000)).toMatchObject({ verdict: "missed", missingWords: ["PartOf"] });
  });

  it("a failed global setup is the first failure, whatever else failed", () => {
    const xml = junit(failing("other")).replace(
      '<testcase classname="specs/e2e/setup.test.ts" name="global setup &gt; built the images" time="0"></testcase>',
      '<testcase classname="specs/e2e/setup.test.ts" name="global setup &gt; step &quot;app: gunicorn units&quot; (provision) failed" time="0"><failure message="WorkingDirectory= path is not absolute" type="Error"/></testcase>',
    );
    expect(verdictOf(FAULTS.find((f) => f.id === "workdir-tilde")!, xml, 1)).toMatchObject({ verdict: "caught", test: 'specs/e2e/setup.test.ts > global setup > step "app: gunicorn units" (provision) failed' });
  });

  it("the report counts a kill only when caught with the words, and the table says so", () => {
    const results = [verdictOf(fault, junit(failing("PartOf")), 1000), verdictOf(fault, junit(failing("vague")), 1000), verdictOf(fault, junit(skipped), 1000)];
    const report = faultsReport(results, undefined, new Date(0));
    expect(report).toMatchObject({ faults: 3, caught: 1, vague: 1, missed: 1, killRate: 1 / 3, detectionRate: 2 / 3 });
    expect(faultsTable(report)).toMatch(/kill rate 33\.3 %: 1 caught, 1 caught but vague, 1 missed, of 3$/);
    expect(causeOf("cause\n\nDiagnostics from the snapshot testbed x:\nmore")).toBe("cause");
  });
});
