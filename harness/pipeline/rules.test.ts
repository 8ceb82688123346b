import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { generatePipeline } from "./generate.ts";
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
});
