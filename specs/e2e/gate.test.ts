import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { XMLParser } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runGate } from "../../harness/gate/gate.ts";
import { jobScript } from "../../harness/pipeline/job-script.ts";
import { gitlabCiSchemaErrors } from "../../harness/pipeline/schema.ts";
import { PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { childEnv } from "../../harness/plumbing/settings.ts";
import { log } from "./support.ts";

/**
 * A Django team's gate on its own project, as the team runs it: the job template their pipeline
 * includes, and the gate's verdict on a project that must not reach production. Each run starts
 * from the provisioned snapshot, deploys every environment preflight allows and leaves nothing.
 */
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}/`, import.meta.url));
const TEMPLATE = join(PROJECT_ROOT, "templates", "gate.gitlab-ci.yml");
const scratch = mkdtempSync(join(tmpdir(), "ddt-gate-spec-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Junit {
  testsuites: { testsuite: Array<{ "@_name": string; "@_tests": string; "@_failures": string; testcase: Array<{ "@_name": string; failure?: unknown }> }> };
}

/** The template's job, its before_script and script, as GitLab Runner's shell runs them (harness/pipeline/job-script.ts). */
function runTemplateJob(projectDir: string, variables: Record<string, string | null>): Promise<{ code: number; log: string }> {
  const job = (parse(readFileSync(TEMPLATE, "utf8")) as Record<string, { before_script: string[]; script: string[]; variables: Record<string, string> }>)["deploy-testbed-gate"]!;
  const env = childEnv({ ...job.variables, CI_PROJECT_DIR: projectDir, CI: "true" });
  // A variable given as null is unset, as gitlab-ci-local's --unset-variable does.
  for (const [k, v] of Object.entries(variables)) if (v === null) delete env[k]; else env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", jobScript([...job.before_script, ...job.script], projectDir)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => void (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => void (out += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, log: out }));
  });
}

describe("the gate's job template, in a team's pipeline", () => {
  it("is valid against GitLab's CI schema, runs docker-in-docker, and publishes the JUnit its script writes", () => {
    const doc = parse(readFileSync(TEMPLATE, "utf8")) as Record<string, Record<string, any>>;
    expect(gitlabCiSchemaErrors(doc)).toEqual([]);
    const job = doc["deploy-testbed-gate"]!;
    expect(job.services[0].name).toMatch(/dind/);
    expect(job.variables).toMatchObject({ DOCKER_HOST: "tcp://docker:2375", TESTCONTAINERS_HOST_OVERRIDE: "docker" });
    expect(job.script.join("\n")).toContain('npx django-deploy-testbed gate --project "$CI_PROJECT_DIR" --junit "$CI_PROJECT_DIR/deploy-testbed-gate.xml"');
    expect(job.artifacts).toMatchObject({ when: "always", reports: { junit: "deploy-testbed-gate.xml" } });
  });

  it("runs the gate on the team's project (a settings package whose production module star-imports a sqlite base): every environment deployed, every check passed", async () => {
    const project = join(scratch, "events");
    cpSync(fixture("events-settings-package"), project, { recursive: true });
    // This checkout, with its node_modules, stands for the clone; the local engine for the dind service.
    const { code, log: out } = await runTemplateJob(project, { DEPLOY_TESTBED_DIR: PROJECT_ROOT, DOCKER_HOST: null, TESTCONTAINERS_HOST_OVERRIDE: null });
    expect(code, out.slice(-4000)).toBe(0);
    expect(out).toMatch(/^gate passed: 3 environments deployed, \d+ checks passed$/m);
    expect(out).toMatch(/^prod +deployed +[1-9]\d* +0$/m);
    const junit = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(join(project, "deploy-testbed-gate.xml"), "utf8")) as Junit;
    const suites = Object.fromEntries(junit.testsuites.testsuite.map((s) => [s["@_name"], s]));
    expect(Object.keys(suites).sort()).toEqual(["gate dev", "gate prod", "gate project", "gate staging"]);
    for (const s of Object.values(suites)) expect(s["@_failures"], s["@_name"]).toBe("0");
    expect(suites["gate prod"]!.testcase.map((c) => c["@_name"])).toEqual([
      "preflight: the settings, as Django evaluates them",
      "deploy through the generated pipeline",
      "passes every check of the checklist (npm run verify)",
      "a redeploy of a new commit, under traffic",
      "a release whose settings do not import is refused, the old release serving, under traffic",
      "a release whose migration fails is refused, the old release serving, under traffic",
      "a rollback to the release live before, under traffic",
    ]);
  });
});

describe("the gate on a project that must not reach production", () => {
  it("DEBUG = True in the settings: prod refused before any server, naming DEBUG and its line; dev and staging deployed and checked; the gate fails", async () => {
    const r = await runGate({ projectDir: fixture("notes-debug-on"), log });
    expect(r.passed).toBe(false);
    expect(r.rows.map((row) => [row.env, row.outcome])).toEqual([["dev", "deployed"], ["staging", "deployed"], ["prod", "refused"]]);
    const prod = r.rows.find((row) => row.env === "prod")!;
    expect(prod.problems).toEqual([expect.stringMatching(/^error: notes\/settings\.py:11: DEBUG is on, whatever DJANGO_DEBUG says, in a production environment/)]);
    expect(r.rows.find((row) => row.env === "staging")!.problems).toEqual([expect.stringMatching(/^warning: notes\/settings\.py:11: DEBUG is on/)]);
    // The failure is prod's refusal alone: everything that ran on dev and staging passed, staging's broken releases and rollback included.
    expect(r.cases.filter((c) => c.status === "failed").map((c) => `${c.env}: ${c.name}`)).toEqual(["prod: preflight: the settings, as Django evaluates them"]);
    expect(r.cases.filter((c) => c.env === "staging").map((c) => c.name)).toContain("a rollback to the release live before, under traffic");
    const staging = r.rows.find((row) => row.env === "staging")!;
    expect(staging.requests).toBeGreaterThan(0);
    expect(staging.failed).toBe(0);
  });
});
