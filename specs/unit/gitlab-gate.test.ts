import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../../harness/paths.ts";
import { gitlabCiSchemaErrors } from "../../harness/pipeline/schema.ts";

/** A job with what it `extends` merged in, as GitLab does (one level is all this file uses). */
function resolved(doc: Record<string, Record<string, unknown>>, name: string): Record<string, any> {
  const job = doc[name]!;
  return job.extends ? { ...doc[job.extends as string], ...job } : job;
}

describe("the project's own .gitlab-ci.yml (the regression gate)", () => {
  it("is valid against GitLab's CI schema and publishes the JUnit report of npm test", async () => {
    const doc = parse(await readFile(join(PROJECT_ROOT, ".gitlab-ci.yml"), "utf8"));
    expect(gitlabCiSchemaErrors(doc)).toEqual([]);
    const job = resolved(doc, "testbed");
    expect(job.parallel).toBeGreaterThanOrEqual(2);
    expect(job.script).toEqual(["npm test -- --shard=$CI_NODE_INDEX/$CI_NODE_TOTAL --outputFile.junit=reports/junit-$CI_NODE_INDEX.xml"]);
    expect(job.artifacts.reports.junit).toBe("reports/junit-*.xml");
    expect(job.artifacts.when).toBe("always");
    expect(job.services[0].name).toMatch(/dind/);
    expect(job.variables).toMatchObject({ DOCKER_HOST: "tcp://docker:2375", TESTCONTAINERS_HOST_OVERRIDE: "docker", TESTBED_BASE: "ubuntu:24.04" });
  });

  it("runs the fault catalogue on scheduled pipelines only, with the gate's engine", async () => {
    const doc = parse(await readFile(join(PROJECT_ROOT, ".gitlab-ci.yml"), "utf8"));
    const job = resolved(doc, "faults");
    expect(job.rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "schedule"' }]);
    expect(job.script).toEqual(["npm run faults"]);
    expect(job.parallel).toBeUndefined();
    expect(job.services[0].name).toMatch(/dind/);
    expect(job.artifacts.paths).toContain("reports/");
  });
});
