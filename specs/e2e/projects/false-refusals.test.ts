import { fileURLToPath } from "node:url";
import { describe, expect } from "vitest";
import { ENV_NAMES } from "../../../harness/domain/envs.ts";
import { PipelineDeployment } from "../../../harness/pipeline/deployment.ts";
import { deployToSandbox } from "../../../harness/sandbox/deploy-rollback.ts";
import { sampleProjectDir } from "../../../harness/domain/fixtures.ts";
import { expectChecklistPasses } from "../checks.ts";
import { expectNoFailedRequests, log, onTestbed, sharedTestbed } from "../support.ts";

/**
 * The shapes that reading settings as text refused, though Django deploys them: each is deployed
 * where preflight by Django allows it (every environment), through the generated pipeline, side by
 * side and under traffic, over the project live before it, and passes every check of the checklist.
 * (events-settings-package goes through the gate's job template, and notes-debug-on through the gate,
 * in specs/e2e/gate.test.ts.)
 */
const fixture = (name: string) => fileURLToPath(new URL(`../../../fixtures/${name}/`, import.meta.url));
const shared = sharedTestbed((tb) => PipelineDeployment.provision(tb, { projectDir: sampleProjectDir() }), "deployed");

describe("the projects preflight by text refused, deployed where Django allows them", () => {
  for (const [name, shape] of [
    ["library-database-override", "DATABASES starts as sqlite and is replaced when DATABASE_URL is set"],
    ["forum-dev-flag", "sqlite only under a development flag; DATABASE_URL required otherwise; its own health path"],
    ["recipes-commented-sqlite", "a sqlite block in a comment; Postgres from separate variables"],
  ] as const) {
    onTestbed(shared, `${name} (${shape}): every environment, under traffic, 0 failed requests, every check passed`, async ({ tb, data }) => {
      const outcomes = await deployToSandbox(data, { envs: [...ENV_NAMES], projectDir: fixture(name), log });
      expect(outcomes.map((o) => [o.env, o.result.status])).toEqual(ENV_NAMES.map((e) => [e, "success"]));
      for (const o of outcomes) expectNoFailedRequests(o.traffic, o.env, `the deploy of ${name}`);
      for (const env of ENV_NAMES) await expectChecklistPasses(tb, env);
    });
  }
});
