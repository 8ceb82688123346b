import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../harness/plumbing/paths.ts";

const run = promisify(execFile);

// The gate publishes vitest's JUnit file (artifacts:reports:junit); GitLab reads it with a JUnit
// parser, so its counts must be right: this runs vitest on a file with known outcomes.
describe("JUnit report", () => {
  it("counts passed, failed and skipped tests as a JUnit parser reads them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ddt-junit-"));
    try {
      await writeFile(join(dir, "vitest.config.mjs"), "export default { test: { include: ['sample.test.mjs'] } };\n");
      await writeFile(
        join(dir, "sample.test.mjs"),
        `import { it, expect } from "vitest";
it("passes", () => expect(1).toBe(1));
it("passes too", () => expect(2).toBe(2));
it("fails", () => expect(1).toBe(2));
it.skip("is skipped", () => {});
`,
      );
      const out = join(dir, "junit.xml");
      const vitest = join(PROJECT_ROOT, "node_modules", "vitest", "vitest.mjs");
      const status = await run(process.execPath, [vitest, "run", "--root", dir, "--reporter=junit", `--outputFile=${out}`], { cwd: dir }).then(
        () => 0,
        (e: { code: number }) => e.code,
      );
      expect(status).toBe(1);
      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(await readFile(out, "utf8"));
      expect(doc.testsuites).toMatchObject({ tests: "4", failures: "1" });
      const cases = [doc.testsuites.testsuite].flat().flatMap((s: { testcase: unknown }) => [s.testcase].flat()) as Array<Record<string, unknown>>;
      expect(cases).toHaveLength(4);
      expect(cases.filter((c) => "failure" in c).map((c) => c.name)).toEqual(["fails"]);
      expect(cases.filter((c) => "skipped" in c).map((c) => c.name)).toEqual(["is skipped"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("is summed up by scripts/maintainer/junit-summary.mjs in the closing line .ci/run prints", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ddt-junit-summary-"));
    try {
      const file = join(dir, "junit.xml");
      await writeFile(
        file,
        `<?xml version="1.0" encoding="UTF-8" ?>
<testsuites><testsuite name="a" tests="5">
<testcase classname="a" name="ok one"></testcase>
<testcase classname="a" name="ok two"/>
<testcase classname="a" name="broke"><failure message="x">boom</failure></testcase>
<testcase classname="a" name="setup"><error message="y"/></testcase>
<testcase classname="a" name="later"><skipped/></testcase>
</testsuite></testsuites>
`,
      );
      const { stdout } = await run(process.execPath, [join(PROJECT_ROOT, "scripts", "maintainer", "junit-summary.mjs"), file]);
      expect(stdout).toBe("vitest: 2 passed, 2 failed, 1 skipped\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
