import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../../harness/paths.ts";
import { gitlabCiSchemaErrors } from "../../harness/pipeline/schema.ts";

describe("the project's own .gitlab-ci.yml (the regression gate)", () => {
  it("is valid against GitLab's CI schema and publishes the JUnit report of npm test", async () => {
    const doc = parse(await readFile(join(PROJECT_ROOT, ".gitlab-ci.yml"), "utf8"));
    expect(gitlabCiSchemaErrors(doc)).toEqual([]);
    const job = doc.testbed;
    expect(job.script).toContain("npm test");
    expect(job.artifacts.reports.junit).toBe("reports/junit.xml");
    expect(job.artifacts.when).toBe("always");
    expect(job.services[0].name).toMatch(/dind/);
    expect(job.variables).toMatchObject({ DOCKER_HOST: "tcp://docker:2375", TESTCONTAINERS_HOST_OVERRIDE: "docker", TESTBED_BASE: "ubuntu:24.04" });
  });

  it("runs the fault catalogue on scheduled pipelines only, with the gate's engine", async () => {
    const doc = parse(await readFile(join(PROJECT_ROOT, ".gitlab-ci.yml"), "utf8"));
    expect(doc.faults.extends).toBe("testbed");
    expect(doc.faults.rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "schedule"' }]);
    expect(doc.faults.script).toEqual(["npm run faults"]);
    expect(doc.faults.artifacts.paths).toContain("reports/");
  });
});
