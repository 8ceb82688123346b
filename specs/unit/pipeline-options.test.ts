import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULT_CONFIG, environments } from "../../harness/domain/envs.ts";
import { NO_HOOKS } from "../../harness/domain/hooks.ts";
import { generatePipeline, pipelineObject } from "../../harness/pipeline/generate.ts";

// Each option of the generator, by what it changes in the jobs (the golden file shows the defaults only).
type Job = { script: string[]; variables?: Record<string, string> };
const jobs = (doc: Record<string, unknown>) => Object.keys(doc).filter((k) => !["stages", "variables"].includes(k));

describe("the generator's options, each by what it changes", () => {
  it("--env: only the environments named get jobs, and only their resource groups in the header", () => {
    expect(jobs(pipelineObject({ envs: ["prod"] }))).toEqual(["production", "rollback-production", "verify-production"]);
    expect(jobs(pipelineObject({ envs: ["dev", "staging"] }))).toEqual(["dev", "rollback-dev", "verify-dev", "staging", "rollback-staging", "verify-staging"]);
    expect(jobs(pipelineObject())).toHaveLength(9);
    const header = (text: string) => text.split("\n").filter((l) => l.startsWith("#"));
    const groups = (text: string) => header(text).flatMap((l) => [...l.matchAll(/resource_groups\/(deploy-\w+)/g)].map((m) => m[1]));
    expect(groups(generatePipeline({ envs: ["prod"] }))).toEqual(["deploy-prod"]);
    expect(groups(generatePipeline())).toEqual(["deploy-dev", "deploy-staging", "deploy-prod"]);
  });

  it("isolation shared: one DEPLOY_USER for the whole pipeline and one key; per environment: each job its environment's user and scoped key", () => {
    const shared = pipelineObject({ config: { isolation: "shared" } });
    expect((shared.variables as Record<string, unknown>).DEPLOY_USER).toEqual({ value: DEFAULT_CONFIG.deployUser, description: "The deploy user on the app server." });
    for (const name of jobs(shared)) expect((shared[name] as Job).variables, name).toBeUndefined();
    const sharedText = generatePipeline({ config: { isolation: "shared" } });
    expect(sharedText).toContain("# Needs the CI/CD variables SSH_PRIVATE_KEY (the deploy key) and SSH_KNOWN_HOSTS (the server's host key line).");
    expect(sharedText).not.toContain("scoped to its environment");

    const own = pipelineObject();
    expect(own.variables).not.toHaveProperty("DEPLOY_USER");
    for (const env of environments()) {
      for (const name of [env.job, `rollback-${env.job}`, `verify-${env.job}`]) expect((own[name] as Job).variables, name).toEqual({ DEPLOY_USER: env.user });
    }
    const ownText = generatePipeline();
    expect(ownText).toContain("# variable per environment, each scoped to its environment (Environment scope: dev, staging, prod), prod's");
    expect(ownText).not.toContain("SSH_PRIVATE_KEY (the deploy key)");
  });

  it("--check-migrations adds makemigrations --check to prepare, and only then", () => {
    const prepare = (doc: Record<string, unknown>) => (doc.production as Job).script.find((l) => l.includes(" prepare "))!;
    expect(prepare(pipelineObject({ checkMigrations: true }))).toMatch(/ prepare "\$RELEASE" check collectstatic migrate --migrations$/);
    expect(prepare(pipelineObject())).toMatch(/ prepare "\$RELEASE" check collectstatic migrate$/);
    expect(prepare(pipelineObject({ checkMigrations: false }))).not.toContain("--migrations");
  });

  it("hooks reach the deploy jobs' steps (how a fault reorders them)", () => {
    const reversed = { ...NO_HOOKS, steps: <T,>(steps: ReadonlyArray<T>) => [...steps].reverse() };
    const order = (doc: Record<string, unknown>) => [...(doc.production as Job).script.join("\n").matchAll(/-release prod (\w+) "\$RELEASE"/g)].map((m) => m[1]);
    expect(order(pipelineObject())).toEqual(["venv", "prepare", "switch", "verify"]);
    expect(order(pipelineObject({ hooks: reversed }))).toEqual(["verify", "switch", "prepare", "venv"]);
  });

  it("every job runs the generated file's own steps, parsed back from the text as GitLab reads it", () => {
    const doc = parse(generatePipeline({ envs: ["staging"], checkMigrations: true }));
    expect(Object.keys(doc).filter((k) => k !== "stages" && k !== "variables")).toEqual(["staging", "rollback-staging", "verify-staging"]);
    expect((doc.staging as Job).script.join("\n")).toContain("--migrations");
  });
});
