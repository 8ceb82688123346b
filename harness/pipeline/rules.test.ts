import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { generatePipeline } from "./generate.ts";
import { predefinedVariables, type PipelineSource } from "./executor.ts";
import { evaluateIf, jobWhen } from "./rules.ts";

const vars = (branch: string) => ({ CI_COMMIT_BRANCH: branch, CI_COMMIT_REF_NAME: branch, CI_DEFAULT_BRANCH: "master", CI_PIPELINE_SOURCE: "push" });

describe("rules:if", () => {
  it.each([
    ["$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "master", true],
    ["$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "dev", false],
    ['$CI_COMMIT_BRANCH == "staging"', "staging", true],
    ["$CI_COMMIT_BRANCH != 'staging'", "staging", false],
    ["$CI_COMMIT_BRANCH =~ /^feature\\//", "feature/login", true],
    ["$CI_COMMIT_BRANCH !~ /^feature\\//", "feature/login", false],
    ["$CI_COMMIT_BRANCH =~ /^FEAT/i", "feature/x", true],
    ["$CI_COMMIT_BRANCH", "anything", true],
    ["$CI_COMMIT_TAG", "anything", false],
    ["$CI_COMMIT_TAG == null", "anything", true],
    ['$CI_COMMIT_BRANCH == "a" || $CI_COMMIT_BRANCH == "b"', "b", true],
    ['$CI_COMMIT_BRANCH && ($CI_COMMIT_BRANCH != "master" && $CI_COMMIT_BRANCH != "staging")', "staging", false],
    ['${CI_COMMIT_BRANCH} == "dev"', "dev", true],
  ])("%s on %s is %s", (expr, branch, expected) => {
    expect(evaluateIf(expr, vars(branch))).toBe(expected);
  });

  it("names a malformed expression", () => {
    expect(() => evaluateIf('$A == "x" &&', vars("x"))).toThrow(/rules:if .* ends too early/);
    expect(() => evaluateIf("$A ? 1", vars("x"))).toThrow(/cannot read "\? 1"/);
  });
});

describe("job selection", () => {
  it("takes the first matching rule, honours when: never, and skips when none matches", () => {
    const job = { rules: [{ if: '$CI_COMMIT_BRANCH == "x"', when: "never" }, { if: "$CI_COMMIT_BRANCH" }] };
    expect(jobWhen(job, vars("x"))).toBeUndefined();
    expect(jobWhen(job, vars("y"))).toBe("on_success");
    expect(jobWhen({ rules: [{ if: '$CI_COMMIT_BRANCH == "z"' }] }, vars("y"))).toBeUndefined();
    expect(jobWhen({ rules: [{ when: "manual" }] }, vars("y"))).toBe("manual");
  });

  it("reads only/except with names and regexes", () => {
    expect(jobWhen({ only: ["master"] }, vars("master"))).toBe("on_success");
    expect(jobWhen({ only: ["/^release-.*$/"] }, vars("release-1"))).toBe("on_success");
    expect(jobWhen({ except: ["master", "staging"] }, vars("staging"))).toBeUndefined();
    expect(jobWhen({ except: ["master", "staging"] }, vars("feature/login"))).toBe("on_success");
    expect(jobWhen({ only: { refs: ["staging"] } }, vars("dev"))).toBeUndefined();
  });

  it.each(["rules", "only-except"] as const)("selects exactly one deploy job per branch in the generated pipeline (%s)", (style) => {
    const doc = parse(generatePipeline({ style }));
    const run = (branch: string) => ["dev", "staging", "production"].filter((j) => jobWhen(doc[j], vars(branch)));
    expect(run("feature/login")).toEqual(["dev"]);
    expect(run("staging")).toEqual(["staging"]);
    expect(run("master")).toEqual(["production"]);
  });

  // Which deploy jobs each kind of pipeline runs, by the executor's own predefined variables.
  const KINDS: Array<[what: string, ref: string, source: PipelineSource, expected: string[]]> = [
    ["a push to the default branch", "DEFAULT", "push", ["production"]],
    ["a push to staging", "staging", "push", ["staging"]],
    ["a push to a feature branch", "feature/login", "push", ["dev"]],
    ["a tag", "v1.0.0", "tag", []],
    ["a merge request from a feature branch", "feature/login", "merge_request_event", []],
    ["a merge request from staging", "staging", "merge_request_event", []],
  ];
  describe.each(["rules", "only-except"] as const)("deploy jobs by kind of pipeline (%s)", (style) => {
    const doc = parse(generatePipeline({ style }));
    for (const defaultBranch of ["master", "main"]) {
      it.each(KINDS)(`default branch ${defaultBranch}: %s`, (_, ref, source, expected) => {
        const v = predefinedVariables({ ref: ref === "DEFAULT" ? defaultBranch : ref, source, defaultBranch, sha: "0".repeat(40), projectDir: "/builds/x/y", projectName: "y" });
        const jobs = Object.keys(doc).filter((j) => typeof doc[j] === "object" && doc[j].stage && jobWhen(doc[j], { ...v, CI_JOB_NAME: j }) === "on_success");
        // Each deploy job with its verify job, which runs where it runs.
        expect(jobs).toEqual(expected.flatMap((j) => [j, `verify-${j}`]));
        // The rollback jobs are offered (manual) exactly where the deploy jobs run.
        const manual = Object.keys(doc).filter((j) => typeof doc[j] === "object" && doc[j].stage && jobWhen(doc[j], v) === "manual");
        expect(manual).toEqual(expected.map((j) => `rollback-${j}`));
      });
    }
  });

  it("keeps a job's own when: manual with only/except", () => {
    expect(jobWhen({ only: ["master"], when: "manual" }, vars("master"))).toBe("manual");
    expect(jobWhen({ only: { refs: ["branches"], variables: ['$CI_COMMIT_BRANCH == "x"'] } }, vars("y"))).toBeUndefined();
  });
});
