import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { predefinedVariables, type PipelineSource } from "../../harness/pipeline/executor.ts";
import { generatePipeline } from "../../harness/pipeline/generate.ts";
import { jobWhen } from "../../harness/pipeline/rules.ts";
import { PROJECT_ROOT } from "../../harness/paths.ts";

const run = promisify(execFile);

// gitlab-ci-local reads GitLab's rules as GitLab's own code does: it must pick the same jobs (and the
// same `when`) as this project's executor, for every kind of pipeline.
const CASES: Array<[what: string, ref: string, source: PipelineSource, defaultBranch: string]> = [
  ["a push to the default branch master", "master", "push", "master"],
  ["a push to the default branch main", "main", "push", "main"],
  ["a push to master when main is the default", "master", "push", "main"],
  ["a push to staging", "staging", "push", "master"],
  ["a push to a feature branch", "feature/login", "push", "master"],
  ["a tag", "v1.0.0", "tag", "master"],
  ["a merge request", "feature/login", "merge_request_event", "master"],
];

let repo = "";
const pipeline = generatePipeline();
beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), "ddt-gcl-"));
  await writeFile(join(repo, ".gitlab-ci.yml"), pipeline);
  const git = (...args: string[]) => run("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd: repo });
  await git("init", "-q", "-b", "master");
  await git("add", "-A");
  await git("commit", "-q", "-m", "pipeline");
});
afterAll(() => rm(repo, { recursive: true, force: true }));

async function gitlabCiLocal(vars: Record<string, string>): Promise<Record<string, string>> {
  const args = ["--list-json", ...Object.entries(vars).flatMap(([k, v]) => ["--variable", `${k}=${v}`])];
  if (!vars.CI_COMMIT_BRANCH) args.push("--unset-variable", "CI_COMMIT_BRANCH");
  const { stdout } = await run(join(PROJECT_ROOT, "node_modules", ".bin", "gitlab-ci-local"), args, {
    cwd: repo,
    env: { ...process.env, GCL_IGNORE_PREDEFINED_VARS: Object.keys(vars).join(",") },
  });
  const jobs = JSON.parse(stdout.slice(stdout.indexOf("\n[") + 1)) as Array<{ name: string; when: string }>;
  return Object.fromEntries(jobs.filter((j) => j.when !== "never").map((j) => [j.name, j.when]));
}

describe("gitlab-ci-local agrees with the executor on the generated rules", () => {
  it.concurrent.each(CASES)("%s", async (_, ref, source, defaultBranch) => {
    const vars = predefinedVariables({ ref, source, defaultBranch, sha: "0".repeat(40), projectDir: "/builds/t/p", projectName: "p" });
    const doc = parse(pipeline) as Record<string, { stage?: string }>;
    const ours = Object.fromEntries(
      Object.keys(doc)
        .filter((j) => typeof doc[j] === "object" && doc[j]!.stage)
        .map((j) => [j, jobWhen(doc[j] as never, { ...vars, CI_JOB_NAME: j })])
        .filter(([, when]) => when),
    );
    // A push deploys one environment and offers its rollback; a tag or a merge request, nothing.
    expect(Object.keys(ours)).toHaveLength(source === "push" ? 2 : 0);
    const theirs = await gitlabCiLocal(Object.fromEntries(Object.entries(vars).filter(([k]) => k !== "CI_PROJECT_DIR")));
    expect(theirs).toEqual(ours);
  }, 60_000);
});
