import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { environments } from "../../harness/envs.ts";
import { generatePipeline, type PipelineOptions } from "../../harness/pipeline/generate.ts";
import { gitlabCiSchemaErrors } from "../../harness/pipeline/schema.ts";

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
    expect(text).toContain("collectstatic --noinput");
    expect(text).toContain("migrate --noinput");
  });

  it("has one deploy job per environment, each touching only its own directory and unit", () => {
    const doc = parse(generatePipeline());
    expect(doc.stages).toEqual(["deploy"]);
    for (const env of environments()) {
      const job = doc[env.job] as Job;
      const all = [...job.before_script, ...job.script].join("\n");
      expect(job.image).toBe("$DEPLOY_IMAGE");
      expect(all).toContain(`deploy-target:${env.dir}/`);
      expect(all).toContain(`sudo systemctl restart ${env.unit}`);
      for (const other of environments().filter((e) => e.name !== env.name)) {
        expect(all).not.toContain(other.dir);
        expect(all).not.toContain(other.unit);
      }
      expect(all).toMatch(/--delete/);
      for (const kept of ["/myprojectenv/", "/static/", "/myproject.sock", ".git*"]) expect(all).toContain(`--exclude="${kept}"`);
    }
    expect(doc.variables.DEPLOY_IMAGE.value).toMatch(/^[\w./-]+:[\w.-]+$/);
  });

  it("selects branches as the seed does, with rules or only/except", () => {
    const rules = parse(generatePipeline());
    expect(rules.production.rules).toEqual([{ if: "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" }]);
    expect(rules.staging.rules).toEqual([{ if: '$CI_COMMIT_BRANCH == "staging"' }]);
    expect(rules.dev.rules.at(-1)).toEqual({ if: "$CI_COMMIT_BRANCH" });
    const seed = parse(generatePipeline({ style: "only-except" }));
    expect(seed.production.only).toEqual(["master"]);
    expect(seed.staging.only).toEqual(["staging"]);
    expect(seed.dev.except).toEqual(["master", "staging"]);
  });
});
