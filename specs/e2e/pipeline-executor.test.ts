import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { docker } from "../../harness/docker/client.ts";
import { labelsFor, listLabelled } from "../../harness/docker/labels.ts";
import { ensureImages } from "../../harness/images/catalog.ts";
import { runPipeline } from "../../harness/pipeline/executor.ts";
import { plainLog } from "../../harness/pipeline/job-script.ts";
import { GitRepo } from "../../harness/pipeline/repo.ts";
import { removeTestbeds } from "../../harness/testbed/cleanup.ts";
import { log, sampleProject, specHooks } from "./support.ts";

// The executor on its own, with a pipeline that exercises what GitLab Runner does besides deploys.
const PIPELINE = stringify({
  stages: ["build", "deploy", "notify"],
  variables: { GREETING: { value: "from the file" }, OVERRIDDEN: "by the file" },
  build: {
    stage: "build",
    image: "$JOB_IMAGE",
    before_script: ["echo before $CI_JOB_NAME"],
    script: [
      'echo "branch=$CI_COMMIT_BRANCH ref=$CI_COMMIT_REF_NAME default=$CI_DEFAULT_BRANCH source=$CI_PIPELINE_SOURCE"',
      'echo "dir=$CI_PROJECT_DIR pwd=$(pwd) sha=$CI_COMMIT_SHA"',
      'git rev-parse --abbrev-ref HEAD',
      'test -f manage.py && echo "checkout ok"',
      'echo "greeting=$GREETING overridden=$OVERRIDDEN"',
      'echo "file at $TOKEN_FILE: $(cat "$TOKEN_FILE")"',
    ],
    after_script: ["echo after runs apart; exit 7"],
  },
  skipped_by_rules: { stage: "build", image: "$JOB_IMAGE", rules: [{ if: '$CI_COMMIT_BRANCH == "feature/x"', when: "never" }, { when: "on_success" }], script: ["echo nope"] },
  deploy: { stage: "deploy", image: "$JOB_IMAGE", script: ["echo deploying", "false | cat", "echo never reached"] },
  notify: { stage: "notify", image: "$JOB_IMAGE", script: ["echo too late"] },
});

describe("pipeline executor", () => {
  it("runs selected jobs stage by stage as GitLab Runner would, and stops after a failed stage", async () => {
    const id = `ddt-test-${randomBytes(3).toString("hex")}`;
    const network = `${id}-net`;
    await docker().createNetwork({ Name: network, Labels: labelsFor(id, "test") });
    try {
      await using repo = await GitRepo.fromDirectory(sampleProject());
      await repo.branch("feature/x", "master");
      const { runner } = await ensureImages({ log });
      const result = await runPipeline({
        hooks: specHooks(),
        pipeline: PIPELINE,
        repo,
        branch: "feature/x",
        defaultBranch: "master",
        network,
        testbedId: id,
        variables: { JOB_IMAGE: runner, OVERRIDDEN: "by the project", TOKEN_FILE: { value: "s3cr3t-file-content", file: true } },
        log,
      });
      expect(result.status).toBe("failed");
      expect(result.jobs.map((j) => [j.name, j.status])).toEqual([
        ["build", "success"],
        ["deploy", "failed"],
        ["notify", "skipped"],
      ]);
      const build = plainLog(result.jobs[0]!.log);
      expect(build).toContain("$ echo before $CI_JOB_NAME\nbefore build\n");
      expect(build).toContain("branch=feature/x ref=feature/x default=master source=push");
      expect(build).toMatch(/dir=\/builds\/testbed\/myproject pwd=\/builds\/testbed\/myproject sha=[0-9a-f]{40}/);
      expect(build).toContain("\nfeature/x\n");
      expect(build).toContain("checkout ok");
      expect(build).toContain("greeting=from the file overridden=by the project");
      expect(build).toMatch(/file at \/builds\/testbed\/myproject\.tmp\/TOKEN_FILE: s3cr3t-file-content/);
      expect(build).toContain("Running after_script\n$ echo after runs apart; exit 7\nafter runs apart");
      expect(build).toMatch(/Job succeeded\n$/);
      const deploy = plainLog(result.jobs[1]!.log);
      expect(result.jobs[1]!.exitCode).toBe(1);
      expect(deploy).toContain("$ false | cat\n");
      expect(deploy).not.toContain("never reached");
      expect(deploy).toMatch(/ERROR: Job failed: exit code 1\n$/);
      // A tag pipeline: CI_COMMIT_TAG and no branch, the tag checked out; rules that ask for a branch skip.
      await repo.git("tag", "v1.0.0", "feature/x");
      const tagged = await runPipeline({
        hooks: specHooks(),
        pipeline: stringify({
          tag_job: { stage: "test", image: "$JOB_IMAGE", script: ['echo "tag=$CI_COMMIT_TAG branch=[$CI_COMMIT_BRANCH] ref=$CI_COMMIT_REF_NAME"', "git describe --tags"] },
          branch_only: { stage: "test", image: "$JOB_IMAGE", rules: [{ if: "$CI_COMMIT_BRANCH" }], script: ["echo nope"] },
        }),
        repo,
        branch: "v1.0.0",
        source: "tag",
        defaultBranch: "master",
        network,
        testbedId: id,
        variables: { JOB_IMAGE: runner },
        log,
      });
      expect(tagged.jobs.map((j) => [j.name, j.status])).toEqual([["tag_job", "success"]]);
      expect(plainLog(tagged.jobs[0]!.log)).toContain("tag=v1.0.0 branch=[] ref=v1.0.0\n$ git describe --tags\nv1.0.0\n");
      const left = await listLabelled(id);
      expect(left.containers).toEqual([]);
    } finally {
      await removeTestbeds({ testbed: id });
    }
  });

  it("a job that outlives its timeout: is stopped there, fails with GitLab Runner's words, and leaves no container", async () => {
    const id = `ddt-test-${randomBytes(3).toString("hex")}`;
    const network = `${id}-net`;
    await docker().createNetwork({ Name: network, Labels: labelsFor(id, "test") });
    try {
      await using repo = await GitRepo.fromDirectory(sampleProject());
      const { runner } = await ensureImages({ log });
      // The sleep is the yardstick: a job that ended long before it was stopped, whatever the machine's speed.
      const sleep = 300;
      const result = await runPipeline({
        hooks: specHooks(),
        pipeline: stringify({
          stages: ["deploy", "after"],
          hangs: { stage: "deploy", image: "$JOB_IMAGE", timeout: "3 seconds", script: ["echo started", `sleep ${sleep}`, "echo never reached"], after_script: ["echo after"] },
          quick: { stage: "deploy", image: "$JOB_IMAGE", timeout: "1h 30m", script: ["echo within its time"] },
          next: { stage: "after", image: "$JOB_IMAGE", script: ["echo too late"] },
        }),
        repo,
        branch: "master",
        defaultBranch: "master",
        network,
        testbedId: id,
        variables: { JOB_IMAGE: runner },
        log,
      });
      expect(result.jobs.map((j) => [j.name, j.status])).toEqual([
        ["hangs", "failed"],
        ["quick", "success"],
        ["next", "skipped"],
      ]);
      const hangs = result.jobs[0]!;
      const text = plainLog(hangs.log);
      expect(text).toContain("$ echo started\nstarted\n$ sleep 300\n");
      expect(text).not.toContain("never reached");
      expect(text).toMatch(/ERROR: Job failed: execution took longer than 3s seconds\n$/);
      expect(hangs.exitCode).toBeNull();
      expect(hangs.durationMs - hangs.startMs, `the job ran ${hangs.durationMs - hangs.startMs} ms after its container started, with a 3 s timeout and a ${sleep} s sleep`).toBeLessThan(sleep * 1000 / 10);
      expect(plainLog(result.jobs[1]!.log)).toMatch(/within its time\n[^]*Job succeeded\n$/);
      expect((await listLabelled(id)).containers).toEqual([]);
      // A timeout GitLab would not read stops the pipeline before any job, naming the job and the text.
      await expect(
        runPipeline({ pipeline: stringify({ odd: { image: "$JOB_IMAGE", timeout: "soon", script: ["true"] } }), repo, branch: "master", defaultBranch: "master", network, testbedId: id, variables: { JOB_IMAGE: runner }, log }),
      ).rejects.toThrow(/job odd: timeout: "soon" is not a duration GitLab reads/);
    } finally {
      await removeTestbeds({ testbed: id });
    }
  });
});
