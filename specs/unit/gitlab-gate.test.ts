import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { parsePlatform } from "../../harness/images/base-platform.ts";
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
    expect(job.script).toEqual(["npm test -- --shard=$SHARD --outputFile.junit=reports/junit-$CI_JOB_ID.xml"]);
    expect(job.artifacts.reports.junit).toBe("reports/junit-*.xml");
    expect(job.artifacts.when).toBe("always");
    expect(job.services[0].name).toMatch(/dind/);
    expect(job.variables).toMatchObject({ DOCKER_HOST: "tcp://docker:2375", TESTCONTAINERS_HOST_OVERRIDE: "docker" });
  });

  it("runs every platform of the matrix in shards that together cover 1/n … n/n, each a platform TESTBED_BASE accepts", async () => {
    const doc = parse(await readFile(join(PROJECT_ROOT, ".gitlab-ci.yml"), "utf8"));
    const cells: Array<{ TESTBED_BASE: string; SHARD: string }> = resolved(doc, "testbed").parallel.matrix.flatMap(
      (row: { TESTBED_BASE: string[]; SHARD: string[] }) => row.TESTBED_BASE.flatMap((b) => row.SHARD.map((shard) => ({ TESTBED_BASE: b, SHARD: shard }))),
    );
    const platforms = [...new Set(cells.map((c) => c.TESTBED_BASE))];
    expect(platforms).toEqual(["debootstrap:bookworm", "debootstrap:trixie", "ubuntu:24.04"]);
    for (const base of platforms) {
      expect(() => parsePlatform(base)).not.toThrow();
      const shards = cells.filter((c) => c.TESTBED_BASE === base).map((c) => c.SHARD);
      const n = shards.length;
      expect(shards).toEqual(Array.from({ length: n }, (_, i) => `${i + 1}/${n}`));
    }
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
  it("runs mutation testing of the pure modules on scheduled pipelines only, keeping its report", async () => {
    const gate = parse(await readFile(join(PROJECT_ROOT, ".gitlab-ci.yml"), "utf8")) as Record<string, { rules?: unknown; script?: string[]; artifacts?: { paths?: string[] } }>;
    const job = gate.mutate!;
    expect(job.rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "schedule"' }]);
    expect(job.script).toContain("npm run mutate");
    expect(job.artifacts?.paths).toEqual(["reports/mutation/"]);
  });
});
