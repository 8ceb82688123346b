import { waitFor } from "../plumbing/deadline.ts";
import { fixtureRequirements, sampleProjectDir, type FixtureChanges } from "../domain/fixtures.ts";
import type { ImageSet } from "../images/catalog.ts";
import type { Logger } from "../plumbing/log.ts";
import { plainLog } from "../pipeline/job-script.ts";
import { PipelineDeployment } from "../pipeline/deployment.ts";
import { Testbed } from "../testbed/testbed.ts";
import { deployTimings, inSeconds } from "./deploy-timings.ts";
import { median, seconds } from "./stats.ts";
import type { EnvName } from "../domain/envs.ts";
import { httpGet } from "../probes/http.ts";
import { TrafficProbe, type TrafficOptions, type TrafficReport } from "../probes/traffic.ts";
import { sh } from "../shell/quote.ts";
import { releaseLibraryDir } from "../release/tool.ts";
import { gunicornCommands } from "../release/tool.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";

/** The bench's traffic: the issue's own measurement, 4 clients through nginx, and 300 answers each side. */
export const BENCH_TRAFFIC = { clients: 4, maxMs: 60_000, answers: 300 };

type AroundTraffic = TrafficOptions & { answers: number };

export interface ActionUnderTraffic {
  requests: number;
  failed: number;
  byStatus: Record<string, number>;
  p99Ms: number;
  maxMs: number;
}

const summary = (r: TrafficReport): ActionUnderTraffic => ({ requests: r.requests, failed: r.failed, byStatus: r.byStatus, p99Ms: r.p99Ms, maxMs: r.maxMs });

/**
 * Traffic before, during and after `action`: 300 answers before it, then until the site has given
 * 300 more good answers after it (bounded by the probe's own limits).
 */
export async function aroundAction(tb: StartedTestbed, env: EnvName, action: () => Promise<void>, traffic: AroundTraffic = BENCH_TRAFFIC): Promise<TrafficReport> {
  const probe = TrafficProbe.start(tb.url(env), traffic);
  const failure = await (async () => {
    await waitFor("traffic: warm-up", async () => (probe.answered >= traffic.answers ? true : undefined), { timeoutMs: 30_000 });
    await action();
    const after = probe.answered;
    await waitFor("traffic: after the action", async () => (probe.answered >= after + traffic.answers ? true : undefined), { timeoutMs: 30_000 });
  })().then(() => undefined, (err: unknown) => err);
  const report = await probe.stop();
  if (failure) throw failure;
  return report;
}

/**
 * The seed's unit: gunicorn binds the socket itself (no socket unit), so a restart closes it. It
 * serves through the same WSGI wrapper as ours (RELEASE_WSGI, from the environment file), so the
 * only difference measured is the socket.
 */
function seedUnit(tb: StartedTestbed, env: EnvName): string {
  const e = tb.env(env);
  return `[Unit]
Description=gunicorn daemon, as the seed writes it (bench only)
After=network.target

[Service]
User=${e.user}
Group=www-data
WorkingDirectory=${e.dir}
EnvironmentFile=${e.envFile}
ExecStart=${e.venv}/bin/gunicorn --access-logfile - --bind unix:${e.socket} --pythonpath ${releaseLibraryDir(tb.config)} release_wsgi:application
`;
}

const answers = (tb: StartedTestbed, env: EnvName) =>
  waitFor(`${env}: the page did not answer 200`, async () => ((await httpGet(tb.url(env)).catch(() => undefined))?.status === 200 ? true : undefined), { timeoutMs: 30_000 });

/**
 * `systemctl restart` under traffic: the seed's unit (its own socket) against ours (the socket held
 * by systemd), on the same server and release; then a HUP after a release switch, to show which
 * code a graceful reload serves.
 */
export async function restartComparison(tb: StartedTestbed, env: EnvName = "prod", traffic: AroundTraffic = BENCH_TRAFFIC) {
  const e = tb.env(env);
  const seedName = `gunicorn-seed@${env}`;
  await tb.app.exec.run(sh`cat > /etc/systemd/system/gunicorn-seed@.service` + " <<'EOF'\n" + seedUnit(tb, env) + "EOF\n");
  let seed;
  try {
    await tb.app.exec.run(sh`systemctl daemon-reload && systemctl stop ${e.unit} && rm -f ${e.socket} && systemctl start ${seedName}`);
    await answers(tb, env);
    seed = await aroundAction(tb, env, async () => void (await tb.app.exec.run(sh`systemctl restart ${seedName}`)), traffic);
  } finally {
    // Ours back in place however the seed's fared, so the server is as the caller left it.
    await tb.app.exec.run(sh`systemctl stop ${seedName}; rm -f ${e.socket}; systemctl start ${e.unit}`);
  }
  await answers(tb, env);
  const ours = await aroundAction(tb, env, async () => void (await tb.app.exec.run(sh`${gunicornCommands(e.unit).restart}`)), traffic);
  return { seedRestart: summary(seed), socketActivatedRestart: summary(ours) };
}

/** A HUP after the live link moved to another release: which release answers afterwards? */
export async function hupAfterSwitch(tb: StartedTestbed, env: EnvName = "prod") {
  const e = tb.env(env);
  const releases = ((await tb.app.exec.run(sh`ls ${e.releases}`)).stdout).trim().split("\n");
  const live = ((await tb.app.exec.run(sh`basename "$(readlink -f ${e.dir})"`)).stdout).trim();
  const other = releases.filter((r) => r !== live).at(-1);
  if (!other) throw new Error(`bench: ${env} needs two releases to switch between (has ${releases.join(", ")})`);
  const link = (name: string) => tb.app.exec.run(sh`cd ${e.root} && ln -s ${`releases/${name}`} .hup-link && mv -T .hup-link ${e.dir}`, { as: e.user });
  const report = await aroundAction(tb, env, async () => {
    await link(other);
    await tb.app.exec.run(sh`systemctl reload ${e.unit}`);
  });
  const served = String((await httpGet(tb.url(env))).headers["x-release"]);
  await link(live);
  await tb.app.exec.run(sh`${gunicornCommands(e.unit).restart}`);
  return { ...summary(report), servesSwitchedRelease: served === other, served, switchedTo: other };
}

/**
 * On servers from the deployed snapshot: prod's pipeline deploy with unchanged requirements (alone,
 * then under traffic), with changed requirements, and the restart and HUP comparisons.
 */
export async function deployFigures(images: Partial<ImageSet>, runs: number, log: Logger) {
  await using tb = await new Testbed().withImages(images).start();
  await using d = await PipelineDeployment.provision(tb, { projectDir: sampleProjectDir() });
  const main = tb.config.defaultBranch;
  let n = 0;
  const deploy = async (changes?: FixtureChanges) => {
    await d.repo.commit(main, `bench ${++n}`, changes ?? { write: { "bench.txt": `${n}\n` } });
    const { result: r } = await d.deploy({ branch: main });
    if (r.status !== "success") throw new Error(`bench: deploy ${n} failed:\n${plainLog(r.jobs[0]?.log ?? "")}`);
    return r.jobs[0]!;
  };
  await deploy(); // the first pipeline deploy onto the snapshot's release
  // At least three: one deploy of about 2 s is too noisy a figure to hold against its target.
  const alone = [];
  for (let i = 0; i < Math.max(runs, 3); i++) alone.push(await deploy());
  const loaded: TrafficReport[] = [];
  const loadedJobs = [];
  for (let i = 0; i < runs; i++) {
    const { value, traffic } = await d.withTraffic("prod", () => deploy(), { ...BENCH_TRAFFIC, during: "a bench deploy" }, log);
    loaded.push(traffic);
    loadedJobs.push(value);
  }
  const requirements = await deploy({ write: { "requirements.txt": fixtureRequirements(sampleProjectDir(), `sqlparse>=0.5 # bench ${n}`) } });
  const restarts = await restartComparison(tb, "prod");
  const hup = await hupAfterSwitch(tb, "prod");
  return {
    deployUnchangedRequirementsS: seconds(median(alone.map((j) => j.durationMs))),
    deployUnchangedRequirementsSteps: inSeconds(deployTimings(alone.at(-1)!)),
    deployUnderTrafficS: seconds(median(loadedJobs.map((j) => j.durationMs))),
    deployUnderTraffic: { requests: loaded.reduce((s, r) => s + r.requests, 0), failed: loaded.reduce((s, r) => s + r.failed, 0), p99Ms: Math.max(...loaded.map((r) => r.p99Ms)), maxMs: Math.max(...loaded.map((r) => r.maxMs)) },
    deployChangedRequirementsS: seconds(requirements.durationMs),
    ...restarts,
    hupAfterSwitch: hup,
  };
}
