#!/usr/bin/env node
// `npx django-deploy-testbed <command> [options]`, from a checkout or an installed tarball: runs
// the command's script with this package's own TypeScript loader (tsx), so it works from any
// directory; paths in the options are the caller's (--project .).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const COMMANDS = {
  gate: "scripts/gate.ts",
  sandbox: "scripts/sandbox.ts",
  verify: "scripts/verify.ts",
  pipeline: "scripts/pipeline.ts",
  images: "scripts/images.ts",
  clean: "scripts/clean.ts",
};
const [command, ...args] = process.argv.slice(2);
if (!command || !(command in COMMANDS)) {
  process.stderr.write(`usage: django-deploy-testbed <${Object.keys(COMMANDS).join("|")}> [options]\n  e.g. django-deploy-testbed gate --project .\n`);
  process.exit(command ? 2 : 0);
}
const script = fileURLToPath(new URL(`../${COMMANDS[command]}`, import.meta.url));
const r = spawnSync(process.execPath, ["--import", import.meta.resolve("tsx"), script, ...args], { stdio: "inherit" });
process.exit(r.status ?? 1);
