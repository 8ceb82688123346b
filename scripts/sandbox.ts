// `npm run sandbox`: a throwaway deployment to poke at, removed on Ctrl-C or SIGTERM.
//   npm run sandbox -- --keep            leave it running; remove later with `down`
//   npm run sandbox -- --env dev,prod    only some environments
//   npm run sandbox -- --base ubuntu:24.04
//   npm run sandbox -- --fresh           provision bare servers, not the recipe's snapshot
//   npm run sandbox -- --project PATH    with your Django project instead of the sample
//   npm run sandbox -- check --project PATH
//                                        what the harness detects in a project, what it sets, and
//                                        each problem that would stop or spoil a deploy (no server)
//   npm run sandbox -- down              remove every sandbox left on this machine
//   npm run sandbox -- deploy [--env dev,prod] [--project PATH] [--id ID]
//                                        commit a project (the sample one by default) to a running
//                                        sandbox's repository and deploy it through the pipeline
//   npm run sandbox -- rollback --env prod [--to COMMIT] [--allow-migrations] [--id ID]
//                                        run the environment's manual rollback job
import { parseArgs } from "node:util";
import { isKept, isOwnedBy } from "../harness/docker/labels.ts";
import { removeTestbeds } from "../harness/testbed/cleanup.ts";
import { parseEnvNames } from "../harness/domain/envs.ts";
import { timingSummary } from "../harness/lifecycle/steps.ts";
import { removeSandboxes, Sandbox, type SandboxRow } from "../harness/sandbox/start.ts";
import { resolve } from "node:path";
import { sampleProjectDir } from "../harness/domain/fixtures.ts";
import { attachSandbox, deployedEnvs, deployToSandbox, rollbackSandbox } from "../harness/sandbox/deploy-rollback.ts";
import { checkProject } from "../harness/sandbox/check.ts";
import { loadProject } from "../harness/project/detect.ts";
import { ensureEngineForRun, log, main, useFlags } from "./cli.ts";

function printTable(rows: SandboxRow[], id: string, platform: string | undefined, keep: boolean): void {
  const out = process.stdout;
  const w = Math.max(...rows.map((r) => r.url.length));
  out.write(`\nSandbox ${id} is up.\n`);
  if (platform) out.write(`Platform: ${platform}\n`);
  out.write(`\n`);
  out.write(`  ${"env".padEnd(8)} ${"url".padEnd(w)}\n`);
  for (const r of rows) out.write(`  ${r.env.padEnd(8)} ${r.url.padEnd(w)}\n`);
  out.write(`\nLog in as each environment's user (a shell, with the operator's key; the CI keys only deploy):\n`);
  for (const r of rows) out.write(`  ${r.env.padEnd(8)} ${r.ssh}\n`);
  out.write(`\nCheck an environment as after a real deploy: npm run verify -- --sandbox --env ${rows.map((r) => r.env).join(",")}\n`);
  out.write(`\nEach environment's database (psql through the app server, the only host Postgres admits):\n`);
  for (const r of rows) out.write(`  ${r.env.padEnd(8)} ${r.database}\n`);
  out.write(keep ? `\nIt stays after this command ends; remove it with: npm run sandbox -- down\n` : `\nPress Ctrl-C to remove it.\n`);
}

await main(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      keep: { type: "boolean" },
      env: { type: "string" },
      base: { type: "string" },
      fresh: { type: "boolean" },
      project: { type: "string" },
      id: { type: "string" },
      to: { type: "string" },
      "allow-migrations": { type: "boolean" },
    },
  });
  useFlags({ base: values.base });
  // The engine check (and its install on a fresh machine) in this process: a separate `presandbox`
  // script cost another npm and Node start, about 0.5 s before every sandbox.
  await ensureEngineForRun();
  // No server: the project's own Django judges each environment's settings, in a container with no network.
  if (positionals[0] === "check") {
    if (!values.project) throw new Error("check needs a project: npm run sandbox -- check --project PATH");
    const { report, errors } = await checkProject(resolve(values.project), { base: values.base, log });
    process.stdout.write(`${report}\n`);
    return errors ? 1 : 0;
  }
  if (positionals[0] === "deploy" || positionals[0] === "rollback") {
    const deployment = await attachSandbox(values.id, log);
    const { tb } = deployment;
    if (positionals[0] === "deploy") {
      const envs = values.env ? parseEnvNames(values.env) : await deployedEnvs(tb);
      const projectDir = resolve(values.project ?? sampleProjectDir());
      await deployToSandbox(deployment, { envs, projectDir, log });
      log.info(`deployed to ${tb.id}: ${envs.map((e) => `${e} ${tb.url(e)}`).join(", ")}`);
    } else {
      const envs = values.env ? parseEnvNames(values.env) : [];
      if (envs.length !== 1) throw new Error(`rollback needs one environment: npm run sandbox -- rollback --env prod [--to COMMIT] [--allow-migrations]`);
      await rollbackSandbox(deployment, { env: envs[0]!, to: values.to, allowMigrations: values["allow-migrations"], log });
      log.info(`rolled back ${envs[0]} on ${tb.id}: ${tb.url(envs[0]!)}`);
    }
    return 0;
  }
  if (positionals[0] === "down") {
    const removed = await removeSandboxes("all");
    log.info(removed.length ? `removed sandboxes: ${removed.join(", ")}` : "no sandbox to remove");
    return 0;
  }
  if (positionals.length) throw new Error(`unknown command "${positionals.join(" ")}"; use no command, "check", "down", "deploy" or "rollback"`);
  const envs = values.env ? parseEnvNames(values.env) : undefined;
  const swept = await removeSandboxes("abandoned");
  if (swept.length) log.info(`swept sandboxes a killed run left: ${swept.join(", ")}`);

  const controller = new AbortController();
  // Read before anything starts: a project the harness cannot make sense of stops here, naming why.
  const projectDir = values.project ? resolve(values.project) : undefined;
  if (projectDir) loadProject(projectDir);
  const sandbox = new Sandbox({ envs, base: values.base, keep: values.keep, fresh: values.fresh, projectDir, log, signal: controller.signal });
  let interrupted = 0;
  const onSignal = (signal: string) => {
    // One Ctrl-C can arrive twice (the terminal's and a wrapper's relay): only a later one forces.
    if (interrupted && Date.now() - interrupted < 1500) return;
    if (interrupted) {
      log.info("second interrupt: forcing removal");
      void removeTestbeds({ where: (l) => isOwnedBy(l) && !isKept(l) }).finally(() => process.exit(130));
      return;
    }
    interrupted = Date.now();
    log.info(`${signal}: ${values.keep ? "leaving the sandbox running" : "removing the sandbox"} (Ctrl-C again to force)`);
    controller.abort();
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  const started = Date.now();
  try {
    const rows = await sandbox.start();
    log.info(`sandbox ready in ${((Date.now() - started) / 1000).toFixed(1)} s; step durations:\n${timingSummary(sandbox.lifecycle.timings)}`);
    printTable(rows, sandbox.testbed!.id, sandbox.platform, Boolean(values.keep));
    if (values.keep) return 0;
    // A pending promise alone does not keep node running; this timer does, until the signal.
    const keepAlive = setInterval(() => {}, 1 << 30);
    if (!controller.signal.aborted) await new Promise((resolve) => controller.signal.addEventListener("abort", resolve, { once: true }));
    clearInterval(keepAlive);
    await sandbox.stop();
    log.info(`sandbox ${sandbox.testbed!.id} removed; nothing of it is left`);
    return 0;
  } catch (err) {
    if (controller.signal.aborted) {
      log.info("interrupted; what had started was removed");
      return 130;
    }
    throw err;
  }
});
