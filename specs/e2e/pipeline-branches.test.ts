import { describe, expect } from "vitest";
import type { EnvName } from "../../harness/envs.ts";
import { FIXTURE_DIR } from "../../harness/fixture.ts";
import { deployBranch } from "../../harness/pipeline/testbed-deploy.ts";
import { expectDeployed, expectNoKeyIn, mainPids } from "./checks.ts";
import { jobLogs, onTestbed, pipelineTestbed } from "./support.ts";

const shared = pipelineTestbed();

const cases: Array<[branch: string, job: string, env: EnvName]> = [
  ["feature/login", "dev", "dev"],
  ["staging", "staging", "staging"],
  ["master", "production", "prod"],
];

describe("the generated pipeline, branch by branch", () => {
  for (const [branch, job, env] of cases) {
    onTestbed(shared, `${branch} runs only ${job}, which deploys ${env} and leaves the others alone`, async ({ tb, data }) => {
      await data.repo.branch(branch, tb.config.defaultBranch);
      const before = await mainPids(tb);
      const result = await deployBranch(data.target, data.repo, branch);
      const logs = jobLogs(result);
      expect(result.jobs.map((j) => j.name), logs).toEqual([job]);
      expect(result.status, logs).toBe("success");
      expectNoKeyIn(logs, data.target.deployKey.private);
      await expectDeployed(tb, env, FIXTURE_DIR);
      const after = await mainPids(tb);
      expect(after[env]).not.toBe(before[env]);
      for (const other of tb.envs.filter((e) => e.name !== env)) expect(after[other.name], other.name).toBe(before[other.name]);
    });
  }
});
