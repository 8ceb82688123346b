import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { predefinedVariables, type PipelineSource } from "../../harness/pipeline/executor.ts";
import { generatePipeline } from "../../harness/pipeline/generate.ts";
import { jobWhen } from "../../harness/pipeline/rules.ts";

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

/**
 * gitlab-ci-local's `--list-json`, in this process: its CLI cost about a core-second per start (seven
 * starts), its handler a few milliseconds per call once imported. One call at a time: each bumps the
 * pipeline number in the repository's state file.
 */
let queue: Promise<unknown> = Promise.resolve();
async function gitlabCiLocal(vars: Record<string, string>): Promise<Record<string, string>> {
  const { handler } = await import("gitlab-ci-local/src/handler.js");
  const { WriteStreamsMock } = await import("gitlab-ci-local/src/write-streams.js");
  const streams = new WriteStreamsMock();
  const args = {
    // gitlab-ci-local joins --cwd onto the process's directory, even an absolute one.
    cwd: relative(process.cwd(), repo),
    listJson: true,
    variable: Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    unsetVariable: vars.CI_COMMIT_BRANCH ? [] : ["CI_COMMIT_BRANCH"],
    // As GCL_IGNORE_PREDEFINED_VARS: ours replace its own predefined values.
    ignorePredefinedVars: Object.keys(vars).join(","),
  };
  const run = queue.then(() => handler(args, streams));
  queue = run.catch(() => undefined);
  await run;
  const stdout = streams.stdoutLines.join("\n");
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
    // A push deploys one environment, verifies it and offers its rollback; a tag or a merge request, nothing.
    expect(Object.keys(ours)).toHaveLength(source === "push" ? 3 : 0);
    const theirs = await gitlabCiLocal(Object.fromEntries(Object.entries(vars).filter(([k]) => k !== "CI_PROJECT_DIR")));
    expect(theirs).toEqual(ours);
  }, 60_000);
});
