// Writes the deploy pipeline for a project: `npm run pipeline -- --out .gitlab-ci.yml [options]`.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnvNames, type Isolation } from "../harness/domain/envs.ts";
import { loadProject } from "../harness/project/detect.ts";
import { generatePipeline, type RuleStyle } from "../harness/pipeline/generate.ts";
import { gitlabCiSchemaErrors } from "../harness/pipeline/schema.ts";
import { log, main } from "./cli.ts";

const USAGE = `usage: npm run pipeline -- [--out FILE] [--project PATH] [--name NAME] [--deploy-user USER] [--isolation per-environment|shared] [--host HOST] [--port N]
       [--base-port N] [--production-branch BRANCH] [--image IMAGE] [--style rules|only-except]
       [--check-migrations] [--env dev,staging,prod] [--url-base http://example.com]
       [--process-mode oldest_first|newest_first|unordered]`;

function processMode(v: string | undefined): "unordered" | "oldest_first" | "newest_first" | undefined {
  if (v === undefined || v === "unordered" || v === "oldest_first" || v === "newest_first") return v;
  throw new Error(`--process-mode ${v}: use oldest_first, newest_first or unordered\n${USAGE}`);
}

await main(async () => {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      project: { type: "string" },
      name: { type: "string" },
      "deploy-user": { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      "base-port": { type: "string" },
      "production-branch": { type: "string" },
      image: { type: "string" },
      style: { type: "string" },
      "check-migrations": { type: "boolean" },
      env: { type: "string" },
      "url-base": { type: "string" },
      "process-mode": { type: "string" },
      isolation: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (values.isolation && !["per-environment", "shared"].includes(values.isolation)) throw new Error(`--isolation ${values.isolation}: use per-environment (a user and a key per environment, the default) or shared (the seed's one user)\n${USAGE}`);
  if (values.style && !["rules", "only-except"].includes(values.style)) throw new Error(`--style ${values.style}: use rules or only-except\n${USAGE}`);
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new Error(`--${name} ${v}: not a number\n${USAGE}`);
    return Number(v);
  };
  // The project's repository: its package names the deploy (paths, units, the release tool) unless
  // --name says otherwise, and its manage.py's directory shapes the upload.
  if (values.project !== undefined && !existsSync(values.project)) {
    throw new Error(`--project ${values.project}: no such directory; --project takes the Django project's repository (the deploy's name is --name NAME)\n${USAGE}`);
  }
  const project = values.project === undefined ? undefined : loadProject(resolve(values.project));
  const name = values.name ?? project?.name;
  const text = generatePipeline({
    appDir: project?.appDir,
    config: {
      ...(name && { project: name }),
      ...(values["deploy-user"] && { deployUser: values["deploy-user"] }),
      ...(values.isolation && { isolation: values.isolation as Isolation }),
      ...(values["base-port"] && { basePort: int("base-port", values["base-port"]) }),
    },
    serverHost: values.host,
    serverPort: int("port", values.port),
    productionBranch: values["production-branch"],
    image: values.image,
    style: values.style as RuleStyle | undefined,
    checkMigrations: values["check-migrations"],
    envs: values.env ? parseEnvNames(values.env) : undefined,
    urlBase: values["url-base"],
    processMode: processMode(values["process-mode"]),
  });
  const errors = gitlabCiSchemaErrors(parse(text));
  if (errors.length) throw new Error(`the generated pipeline does not pass GitLab's CI schema:\n${errors.join("\n")}`);
  if (!values.out) return void process.stdout.write(text);
  await writeFile(values.out, text);
  log.info(`wrote ${values.out} (valid against GitLab's CI schema)`);
});
