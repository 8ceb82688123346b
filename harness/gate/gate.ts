import { DEFAULT_CONFIG, ENV_NAMES, environments, type EnvName } from "../domain/envs.ts";
import { selectedPlatform, suitePython } from "../images/base-platform.ts";
import { ensureImages } from "../images/catalog.ts";
import type { Logger } from "../plumbing/log.ts";
import { loadProject, ProjectError, type DjangoProject } from "../project/detect.ts";
import { appendToSettings, failingMigration, touchFile } from "../project/changes.ts";
import { PipelineDeployment } from "../pipeline/deployment.ts";
import type { PipelineResult } from "../pipeline/executor.ts";
import { jobTail } from "../pipeline/job-script.ts";
import { preflightProject } from "../preflight/preflight.ts";
import { allowedEnvs } from "../preflight/env-verdict.ts";
import { httpGet } from "../probes/http.ts";
import type { TrafficReport } from "../probes/traffic.ts";
import { allowedHosts } from "../recipe/hosts.ts";
import { ensureSnapshots, reuseSnapshotSecrets } from "../snapshots/snapshots.ts";
import { Testbed, type StartedTestbed } from "../testbed/testbed.ts";
import { failedIds, verifyEnvironment } from "../verify/verify.ts";
import { caseFor, type GateCase, type GateResult, type GateRow } from "./gate-report.ts";

/**
 * `npm run gate -- --project PATH`: a Django team's gate, the checks that concern their project and
 * nothing of the harness's own self-tests. In order:
 * 1. preflight: each environment's settings judged by the project's own Django (no network);
 * 2. servers from the provisioned snapshot, provisioned for the project;
 * 3. the generated pipeline deploys every environment preflight allows, side by side;
 * 4. each deployed environment's checklist (npm run verify's checks);
 * then, on the most production-like environment deployed, under traffic:
 * 5. a redeploy of a new commit;
 * 6. two broken releases made from the team's own code, a settings module that does not import and
 *    a migration that fails: each refused, the old release serving, no request failed;
 * 7. a rollback to the release live before the redeploy.
 * Every check is a named, timed case; the result passes only if every environment deployed and
 * every case passed.
 */
export interface GateOptions {
  projectDir: string;
  base?: string;
  log: Logger;
  /** Leave the servers running afterwards (to look at a failure). */
  keep?: boolean;
}

export async function runGate(opts: GateOptions): Promise<GateResult> {
  const cases: GateCase[] = [];
  const rows = new Map<EnvName, GateRow>(ENV_NAMES.map((env) => [env, { env, outcome: "not deployed", problems: [], requests: 0, failed: 0 }]));
  const result = (): GateResult => ({ cases, rows: [...rows.values()], passed: cases.every((c) => c.status !== "failed") && [...rows.values()].every((r) => r.outcome === "deployed") });
  const timed = async (env: EnvName | "project", name: string, fn: () => Promise<string | void>) => {
    const c = await caseFor(env, name, fn);
    opts.log.info(`gate: ${env}: ${name}: ${c.status}${c.message ? ` (${c.message.split("\n")[0]})` : ""}`);
    cases.push(c);
    return c.status === "passed";
  };

  let project: DjangoProject | undefined;
  await timed("project", "the project is a Django project the harness can read", async () => {
    try {
      project = loadProject(opts.projectDir);
    } catch (err) {
      if (err instanceof ProjectError) throw new Error(err.message);
      throw err;
    }
  });
  if (!project) return result();

  // 1. Preflight, before any server exists.
  const images = await ensureImages({ base: opts.base, log: opts.log });
  const envs = environments(DEFAULT_CONFIG);
  const pre = await preflightProject(project, { image: images.appserver, envs, allowedHosts: allowedHosts(), https: DEFAULT_CONFIG.https, serverPython: suitePython(selectedPlatform(opts.base)), log: opts.log });
  for (const v of pre.verdicts) {
    rows.get(v.env)!.problems.push(...v.problems.map((p) => `${p.severity}: ${p.text.slice(v.env.length + 2)}`));
    if (v.outcome === "refused") rows.get(v.env)!.outcome = "refused";
    await timed(v.env, "preflight: the settings, as Django evaluates them", async () => {
      const errors = v.problems.filter((p) => p.severity === "error");
      if (errors.length) throw new Error(errors.map((p) => p.text).join("\n"));
    });
  }
  const allowed = allowedEnvs(pre.verdicts);
  if (!allowed.length) return result();

  // 2. Servers from the provisioned snapshot.
  const snapshot = (await ensureSnapshots({ base: opts.base, log: opts.log })).provisioned;
  const tb = await new Testbed().withKind("gate").withLogger(opts.log).withKeep(opts.keep ? "always" : "never").withImages({ ...images, ...snapshot }).start();
  try {
    await reuseSnapshotSecrets(tb, snapshot);
    const deployment = await PipelineDeployment.provision(tb, { projectDir: opts.projectDir, project, envs: allowed });
    try {
      for (const env of allowed) await deployment.repo.branch(deployment.branchFor(env), tb.config.defaultBranch);
      // 3 and 4: each environment's pipeline touches only its own directory, unit and database.
      await Promise.all(allowed.map(async (env) => {
        const ok = await timed(env, "deploy through the generated pipeline", async () => {
          const { result: run } = await deployment.deploy({ env });
          if (run.status !== "success") throw new Error(`the pipeline failed:\n${jobLogsTail(run)}`);
        });
        rows.get(env)!.outcome = ok ? "deployed" : "failed";
        if (ok) await timed(env, "passes every check of the checklist (npm run verify)", () => checklist(tb, env));
      }));
      const target = [...allowed].reverse().find((env) => rows.get(env)!.outcome === "deployed");
      if (target) await underTraffic(tb, deployment, target, rows.get(target)!, timed);
    } finally {
      await deployment[Symbol.asyncDispose]();
    }
  } finally {
    if (!opts.keep) await tb[Symbol.asyncDispose]();
  }
  for (const row of rows.values()) if (row.outcome === "deployed" && cases.some((c) => c.env === row.env && c.status === "failed")) row.outcome = "failed";
  return result();
}

/** The failed job's last lines, as GitLab shows them. */
const jobLogsTail = (run: PipelineResult) => jobTail(run.jobs.find((j) => j.status !== "success") ?? run.jobs.at(-1));

async function checklist(tb: StartedTestbed, env: EnvName): Promise<string> {
  const e = tb.env(env);
  const report = await verifyEnvironment({ runner: tb.app.exec, as: e.user, config: tb.config, env: e, baseUrl: tb.url(env) }, { retryTimeoutMs: 10_000 });
  const failed = failedIds(report);
  if (failed.length) throw new Error(report.results.filter((r) => r.status === "failed").map((r) => `${r.id}: ${r.seen}`).join("\n"));
  return `${report.results.length} checks passed`;
}

/** The release that answers the health path now, by its X-Release header. */
async function serving(tb: StartedTestbed, env: EnvName, health: string): Promise<string> {
  return String((await httpGet(tb.url(env, health))).headers["x-release"] ?? "");
}

type Timed = (env: EnvName, name: string, fn: () => Promise<string | void>) => Promise<boolean>;

/** Steps 5 to 7, on one environment, each under traffic: 0 failed requests, and the right release serving after. */
async function underTraffic(tb: StartedTestbed, d: PipelineDeployment, env: EnvName, row: GateRow, timed: Timed): Promise<void> {
  const branch = d.branchFor(env);
  const health = d.project.health;
  const count = (t: TrafficReport | undefined, during: string) => {
    if (!t) throw new Error(`${during}: no traffic report`);
    row.requests += t.requests;
    row.failed += t.failed;
    if (t.failed) throw new Error(`${during}: ${t.failed} of ${t.requests} requests failed (${JSON.stringify({ ...t.byStatus, ...t.byError })})`);
    return `${t.requests} requests, 0 failed, p99 ${t.p99Ms} ms`;
  };
  const before = await serving(tb, env, health);
  await timed(env, "a redeploy of a new commit, under traffic", async () => {
    await d.repo.commit(branch, "gate: a new commit to redeploy", touchFile("gate-redeploy.txt", `${Date.now()}\n`));
    const { result: run, traffic } = await d.deploy({ env }, { traffic: { during: "the redeploy" } });
    if (run.status !== "success") throw new Error(`the redeploy failed:\n${jobLogsTail(run)}`);
    const now = await serving(tb, env, health);
    if (now === before) throw new Error(`after the redeploy, ${before} still answers: no new release took over`);
    return `${before} → ${now}; ${count(traffic, "the redeploy")}`;
  });
  const live = await serving(tb, env, health);
  const dir = d.repo.dir;
  const broken = [
    { name: "a release whose settings do not import is refused, the old release serving", changes: appendToSettings(dir, d.project, "import testbed_gate_no_such_module  # the gate's broken release", env) },
    { name: "a release whose migration fails is refused, the old release serving", changes: failingMigration(dir, d.project).changes },
  ];
  for (const b of broken) {
    await timed(env, `${b.name}, under traffic`, async () => {
      await d.repo.commit(branch, `gate: ${b.name}`, b.changes);
      try {
        const { result: run, traffic } = await d.deploy({ env }, { traffic: { during: "the broken deploy" } });
        if (run.status === "success") throw new Error("the pipeline succeeded: the broken release was not refused");
        const now = await serving(tb, env, health);
        if (now !== live) throw new Error(`after the refused deploy, ${now || "no release"} answers instead of ${live}`);
        return `refused; ${live} still serving; ${count(traffic, "the broken deploy")}`;
      } finally {
        await d.repo.git("revert", "--no-edit", "HEAD");
      }
    });
  }
  await timed(env, "a rollback to the release live before, under traffic", async () => {
    const { result: run, traffic } = await d.rollback(env, { traffic: true });
    if (run.status !== "success") throw new Error(`the rollback failed:\n${jobLogsTail(run)}`);
    const now = await serving(tb, env, health);
    if (now !== before) throw new Error(`after the rollback, ${now || "no release"} answers instead of ${before}, the release live before the redeploy`);
    return `${live} → ${before}; ${count(traffic, "the rollback")}`;
  });
}
