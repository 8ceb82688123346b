import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { environments } from "../../harness/domain/envs.ts";
import { generatePipeline, type PipelineOptions } from "../../harness/pipeline/generate.ts";
import { gitlabCiSchemaErrors } from "../../harness/pipeline/schema.ts";
import { releaseDjangoSource } from "../../harness/release/tool.ts";

const GOLDEN = new URL("./golden/gitlab-ci.default.yml", import.meta.url);

const optionSets: Array<[string, PipelineOptions]> = [
  ["defaults", {}],
  ["only/except", { style: "only-except" }],
  ["custom project", { config: { project: "shop", deployUser: "shop-deploy", basePort: 8100 }, serverHost: "app.example.test", serverPort: 2222 }],
  ["named production branch, migration check", { productionBranch: "main", checkMigrations: true, image: "alpine:3.20" }],
  ["only/except, two environments", { style: "only-except", envs: ["staging", "prod"], productionBranch: "release" }],
];

type Job = { script: string[]; before_script: string[]; rules?: Array<{ if: string; when?: string }>; only?: string[]; except?: string[]; image: string };

describe("generated .gitlab-ci.yml", () => {
  it.each(optionSets)("is valid against GitLab's CI schema: %s", (_, opts) => {
    expect(gitlabCiSchemaErrors(parse(generatePipeline(opts)))).toEqual([]);
  });

  it("the schema check can fail", () => {
    const doc = parse(generatePipeline());
    doc.dev.rules = [{ if: "$X", when: "sometimes" }];
    doc.staging.stage = ["deploy"];
    expect(gitlabCiSchemaErrors(doc).length).toBeGreaterThan(0);
  });

  it("matches the golden file for the default options", async () => {
    const text = generatePipeline();
    if (process.env.UPDATE_GOLDEN === "1") await writeFile(GOLDEN, text);
    expect(text).toBe(await readFile(GOLDEN, "utf8"));
  });

  it.each(optionSets)("fixes the seed's mistakes: %s", (_, opts) => {
    const text = generatePipeline(opts);
    expect(text).not.toMatch(/StrictHostKeyChecking\s+no/i);
    expect(text).toMatch(/StrictHostKeyChecking yes/);
    expect(text).not.toMatch(/yes yes|ssh -tt|--proxy/);
    expect(text).not.toMatch(/makemigrations(?! --check)/);
    expect(text).not.toMatch(/\|\s*(head|tail|grep -q)\b/);
    expect(text).not.toMatch(/echo\s+"?\$SSH_PRIVATE_KEY/);
    expect(text).not.toMatch(/:latest\b/);
    // The steps are the release tool's, the Django ones in one process, in order; the tool runs
    // collectstatic and migrate without prompts.
    const steps = [...text.matchAll(/-release \w+ (\w+) "\$RELEASE"(.*)/g)].map((m) => `${m[1]}${m[2]!.replace(/ \$PIP_EXTRA_ARGS| --migrations/g, "")}`);
    expect(new Set(steps)).toEqual(new Set(["venv", "prepare check collectstatic migrate", "switch", "verify"]));
    expect(releaseDjangoSource()).toContain('call_command("collectstatic", interactive=False)');
    expect(releaseDjangoSource()).toContain('call_command("migrate", interactive=False)');
  });

  it("has one deploy job and one manual rollback job per environment, each naming only its own environment", () => {
    const doc = parse(generatePipeline());
    expect(doc.stages).toEqual(["deploy", "verify"]);
    for (const env of environments()) {
      const job = doc[env.job] as Job;
      const script = job.script.join("\n");
      expect(job.image).toBe("$DEPLOY_IMAGE");
      // Code goes into a new release, never into the live path; only `switch` changes what is live.
      expect(job.script[0]).toBe(`RELEASE=$(ssh deploy-target myproject-release ${env.name} new "$CI_COMMIT_SHA")`);
      expect(job.script[1]).toBe(`rsync -rlc --exclude=/.git/ --exclude=/.release.json --exclude=/.release-ready --exclude=/.static --exclude=/media ./ "deploy-target:$RELEASE/"`);
      expect(script).not.toMatch(/--delete|systemctl/);
      expect(script.indexOf(" migrate ")).toBeLessThan(script.indexOf(" switch "));
      const rollback = doc[`rollback-${env.job}`] as Job & { allow_failure: boolean };
      // First a guard, so no ROLLBACK_TO that the server's shell would parse as commands reaches ssh.
      expect(rollback.script[0]).toMatch(/^case "\$\{ROLLBACK_TO:-\}" in\n  \*\[!A-Za-z0-9._-\]\*\) echo "ERROR: ROLLBACK_TO must be a release or a commit.*exit 1;;\nesac$/);
      expect(rollback.script[1]).toBe(`ssh deploy-target myproject-release ${env.name} rollback \${ROLLBACK_TO:+--to "$ROLLBACK_TO"} \${ROLLBACK_ALLOW_MIGRATIONS:+--allow-migrations}`);
      expect(rollback.rules!.filter((r) => r.when !== "never").every((r) => r.when === "manual")).toBe(true);
      expect(rollback.rules!.map((r) => r.if)).toEqual(job.rules!.map((r) => r.if));
      expect(rollback.allow_failure).toBe(true);
      for (const other of environments().filter((e) => e.name !== env.name)) {
        for (const text of [script, rollback.script.join("\n")]) expect(text).not.toMatch(new RegExp(`-release ${other.name} `));
      }
    }
    expect(doc.variables.DEPLOY_IMAGE.value).toMatch(/^[\w./-]+:[\w.-]+$/);
  });

  it("verifies each environment after its deploy: the checklist on the server, as a JUnit test report, with the environment's own key; or not, when turned off", () => {
    const doc = parse(generatePipeline());
    for (const env of environments()) {
      const verify = doc[`verify-${env.job}`] as Job & { stage: string; needs: string[]; environment: { name: string; action: string }; artifacts: { when: string; reports: { junit: string } }; variables: Record<string, string> };
      expect(verify.stage).toBe("verify");
      expect(verify.needs).toEqual([env.job]);
      expect(verify.environment).toEqual({ name: env.name, action: "verify" });
      expect(verify.variables.DEPLOY_USER).toBe(env.user);
      expect(verify.rules).toEqual((doc[env.job] as Job).rules);
      expect(verify.script).toEqual([`ssh deploy-target myproject-release ${env.name} checklist --junit --retry-timeout=30 > verify-${env.name}.xml || true`, `ssh deploy-target myproject-release ${env.name} checklist`]);
      expect(verify.artifacts).toEqual({ when: "always", reports: { junit: `verify-${env.name}.xml` } });
    }
    const off = parse(generatePipeline({ verify: false }));
    expect(off.stages).toEqual(["deploy"]);
    expect(Object.keys(off).filter((k) => k.startsWith("verify-"))).toEqual([]);
  });

  it("selects branches as the seed does, with rules or only/except", () => {
    const rules = parse(generatePipeline());
    expect(rules.production.rules).toEqual([{ if: "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" }]);
    expect(rules.staging.rules).toEqual([{ if: '$CI_COMMIT_BRANCH == "staging"' }]);
    expect(rules.dev.rules.at(-1)).toEqual({ if: "$CI_COMMIT_BRANCH" });
    // only/except follows $CI_DEFAULT_BRANCH too (the seed wrote `master` into the file), and only
    // branch pipelines: never a tag's or a merge request's.
    const seed = parse(generatePipeline({ style: "only-except" }));
    expect(seed.production.only).toEqual({ refs: ["branches"], variables: ["$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"] });
    expect(seed.staging.only).toEqual({ refs: ["branches"], variables: ['$CI_COMMIT_BRANCH == "staging"'] });
    expect(seed.dev.only).toEqual({ refs: ["branches"] });
    expect(seed.dev.except).toEqual({ variables: ['$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH || $CI_COMMIT_BRANCH == "staging"'] });
    expect(seed["rollback-production"]).toMatchObject({ only: seed.production.only, when: "manual", allow_failure: true });
  });

  it("says how to make each resource group process the oldest pipeline first (GitLab sets it by API)", () => {
    const text = generatePipeline();
    for (const env of environments()) {
      expect(parse(text)[env.job].resource_group).toBe(`deploy-${env.name}`);
      expect(text).toContain(`/resource_groups/deploy-${env.name}?process_mode=oldest_first"`);
    }
    expect(generatePipeline({ processMode: "newest_first" })).toContain("process_mode=newest_first");
    expect(text).toContain("Prevent outdated deployment jobs");
  });

  it("links each environment in GitLab, with its tier", () => {
    const doc = parse(generatePipeline());
    expect(doc.production.environment).toEqual({ name: "prod", url: "http://$DEPLOY_HOST:7032", deployment_tier: "production" });
    expect(doc.dev.environment).toEqual({ name: "dev", url: "http://$DEPLOY_HOST:7030", deployment_tier: "development" });
    expect(parse(generatePipeline({ urlBase: "https://shop.example" })).staging.environment.url).toBe("https://shop.example:7031");
  });
});

describe("a project kept in a subdirectory", () => {
  it("never uploads over the media link beside its manage.py", () => {
    const doc = parse(generatePipeline({ appDir: "app" }));
    expect(doc.production.script[1]).toContain("--exclude=/app/media ");
    expect(doc.production.script[1]).not.toContain("--exclude=/media ");
  });
});
