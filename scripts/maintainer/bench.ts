// `npm run bench [-- --runs 3 --skip-cold --skip-suite --shards 2 --platforms debootstrap:bookworm,debootstrap:trixie]`:
// where the time goes, against the targets. The whole suite runs once per platform (default: the one
// TESTBED_BASE selects); every other figure is for the selected platform.
// Prints the figures and writes them to reports/bench.json. Timings are never asserted in tests.
import { cpus, totalmem } from "node:os";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileTimes, runSandboxCommand, runTestSuite } from "../../harness/bench/cli-runs.ts";
import { deployTimings, inSeconds } from "../../harness/bench/deploy-timings.ts";
import { deployFigures } from "../../harness/bench/deploy-safety.ts";
import { cpuSplit, sampleCpu, type CpuSplit } from "../../harness/bench/cpu.ts";
import { floorRun } from "../../harness/bench/floor.ts";
import { shapeDeployFigures } from "../../harness/bench/shape-deploy.ts";
import { median, seconds, timeRuns } from "../../harness/bench/stats.ts";
import { docker } from "../../harness/docker/client.ts";
import { sampleProjectDir } from "../../harness/domain/fixtures.ts";
import { loadProject } from "../../harness/project/detect.ts";
import { IMAGE_LABEL } from "../../harness/images/build.ts";
import { ensureImages } from "../../harness/images/catalog.ts";
import { parsePlatform, selectedPlatform } from "../../harness/images/base-platform.ts";
import { silentLogger } from "../../harness/plumbing/log.ts";
import { cacheDir, PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { ensureSnapshots } from "../../harness/snapshots/snapshots.ts";
import { Testbed } from "../../harness/testbed/testbed.ts";
import { ensureWheelhouse, type PythonTarget } from "../../harness/images/wheelhouse.ts";
import { runGate } from "../../harness/gate/gate.ts";
import { log, main } from "../cli.ts";

const TARGETS = {
  noChangeRebuildS: 2,
  bootS: 3,
  sandboxS: 8,
  suiteS: 60,
  ratio: 1.3,
  coldS: 360,
  memoryGiB: 1.5,
  deployUnchangedS: 2,
  // A team's gate on a small project, warm, on 2 cores.
  gateS: 60,
};

/** Removes the project's images: all of them, or all but the base. */
async function removeImages(keepBase: boolean): Promise<void> {
  const images = await docker().listImages({ filters: { label: [IMAGE_LABEL] } });
  for (const img of images) {
    if (keepBase && img.Labels?.[IMAGE_LABEL] === "base") continue;
    await docker().getImage(img.Id).remove({ force: true }).catch(() => undefined);
  }
}

/** The small project the gate is timed on: every environment deploys. */
const GATE_PROJECT = "library-database-override";

await main(async () => {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, "skip-cold": { type: "boolean" }, "skip-suite": { type: "boolean" }, shards: { type: "string", default: "2" }, platforms: { type: "string" } } });
  const platforms = (values.platforms ?? selectedPlatform().spec).split(",").map((p) => parsePlatform(p));
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: a whole number from 1`);
  const fig: Record<string, unknown> = {};
  const step = (m: string) => log.info(`bench: ${m}`);

  if (!values["skip-cold"]) {
    step("cold: from no images and no wheelhouse, npm run sandbox to its table");
    await removeImages(false);
    await rm(cacheDir("wheelhouse"), { recursive: true, force: true });
    fig.coldSandboxS = seconds((await runSandboxCommand()).toTableMs);
    step("cold image build, base included");
    await removeImages(false);
    fig.coldImagesWithBaseS = seconds((await timeRuns(1, () => ensureImages({ log: silentLogger })))[0]!);
    step("cold image build, base kept");
    await removeImages(true);
    fig.coldImagesWithoutBaseS = seconds((await timeRuns(1, () => ensureImages({ log: silentLogger })))[0]!);
  }
  step("no-change rebuild");
  const images = await ensureImages({ log });
  await ensureSnapshots({ log });
  fig.noChangeRebuildS = seconds(median(await timeRuns(runs, () => ensureImages({ log: silentLogger }))));
  fig.noChangeRebuildWithSnapshotsS = seconds(median(await timeRuns(runs, () => ensureSnapshots({ log: silentLogger }))));

  step("testbed boot (network and both servers to running)");
  const boots: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = Date.now();
    const tb = await new Testbed().withImages(images).start();
    boots.push(Date.now() - t);
    await tb.stop();
  }
  fig.bootS = seconds(median(boots));

  step("provisioning and each environment's pipeline deploy (fresh servers)");
  {
    const tb = await new Testbed().withImages(images).start();
    try {
      await using d = await PipelineDeployment.provision(tb, { projectDir: sampleProjectDir() });
      fig.provisionSteps = Object.fromEntries(d.timings.map((t) => [t.name, seconds(t.ms)]));
      const deploys: Record<string, unknown> = {};
      for (const env of tb.envs) {
        await d.repo.branch(d.branchFor(env.name), tb.config.defaultBranch);
        const { result: r } = await d.deploy({ env: env.name });
        if (r.status !== "success") throw new Error(`bench: deploy of ${env.name} failed`);
        deploys[env.name] = inSeconds(deployTimings(r.jobs[0]!));
      }
      fig.deploys = deploys;
    } finally {
      await tb.stop();
    }
  }

  step("deploys on a running site: unchanged and changed requirements, under traffic; restart and HUP compared");
  const snapshots = await ensureSnapshots({ log: silentLogger });
  Object.assign(fig, await deployFigures(snapshots.deployed, runs, log));

  step("a project that is not the sample (fixtures/shop-database-url): its first prod deploy and unchanged ones");
  fig.shapeDeploy = await shapeDeployFigures(snapshots.provisioned, join(PROJECT_ROOT, "fixtures", "shop-database-url"), runs);

  step("sandbox, command to table (images and snapshots cached)");
  const sandboxRuns = [];
  for (let i = 0; i < runs; i++) sandboxRuns.push(await runSandboxCommand());
  fig.sandboxS = seconds(median(sandboxRuns.map((r) => r.toTableMs)));
  fig.sandboxTeardownS = seconds(median(sandboxRuns.map((r) => r.teardownMs)));
  const peaks = sandboxRuns.map((r) => r.peakMemoryBytes).filter((p): p is number => p !== undefined);
  fig.testbedPeakMemoryGiB = peaks.length ? Math.round((Math.max(...peaks) / 1024 ** 3) * 100) / 100 : null;
  step("sandbox --fresh (no snapshot), command to table");
  fig.sandboxFreshS = seconds((await runSandboxCommand(["--fresh"])).toTableMs);

  step("the floor: the same work by plain engine calls");
  const wheelhouseFor = (target: PythonTarget) => ensureWheelhouse(loadProject(sampleProjectDir()), target, silentLogger);
  fig.floorS = seconds(median(await timeRuns(runs, () => floorRun(images, sampleProjectDir(), wheelhouseFor))));
  fig.ratioSandboxToFloor = Math.round(((fig.sandboxS as number) / (fig.floorS as number)) * 100) / 100;
  fig.ratioFreshSandboxToFloor = Math.round(((fig.sandboxFreshS as number) / (fig.floorS as number)) * 100) / 100;

  step(`the gate on a small project (${GATE_PROJECT}), warm: preflight cached, from the provisioned snapshot`);
  {
    const dir = join(PROJECT_ROOT, "fixtures", GATE_PROJECT);
    await runGate({ projectDir: dir, log: silentLogger }); // warms preflight's cache and the venvs' wheelhouse
    const t = Date.now();
    const gate = await runGate({ projectDir: dir, log: silentLogger });
    fig.gateS = seconds(Date.now() - t);
    fig.gatePassed = gate.passed;
    fig.gateFailedRequests = gate.rows.reduce((n, r) => n + r.failed, 0);
  }

  if (!values["skip-suite"]) {
    // One whole suite per platform, first the selected one (its slowest files and shards are reported).
    const suites: Record<string, { s: number; summary: string }> = {};
    for (const platform of platforms) {
      step(`npm test, whole suite on ${platform.spec} (images and snapshots cached)`);
      const before = sampleCpu();
      const suite = await runTestSuite([], { TESTBED_BASE: platform.spec });
      suites[platform.spec] = { s: seconds(suite.ms), summary: suite.summary };
      if (platform === platforms[0]) {
        fig.slowestFiles = fileTimes(await readFile(`${PROJECT_ROOT}reports/junit.xml`, "utf8")).slice(0, 5);
        fig.suiteCpu = cpuSplit(before, sampleCpu(), cpus().length);
      }
    }
    fig.suiteByPlatform = suites;
    fig.suiteS = suites[platforms[0]!.spec]!.s;
    fig.suiteSummary = suites[platforms[0]!.spec]!.summary;
    // What each runner of a `parallel: N` gate sees: every shard alone, one after another.
    const n = Number(values.shards);
    if (n > 1) {
      const shards = [];
      for (let i = 1; i <= n; i++) {
        step(`npm test -- --shard=${i}/${n}, alone`);
        shards.push(seconds((await runTestSuite([`--shard=${i}/${n}`, `--outputFile.junit=reports/junit-shard-${i}.xml`], { TESTBED_BASE: platforms[0]!.spec })).ms));
      }
      fig.shardsS = shards;
      fig.shardedSuiteS = Math.max(...shards);
    }
  }

  const info = await docker().version();
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version, engine: info.Version, runs },
    targets: TARGETS,
    figures: fig,
  };
  await mkdir(`${PROJECT_ROOT}reports`, { recursive: true });
  await writeFile(`${PROJECT_ROOT}reports/bench.json`, JSON.stringify(report, null, 2) + "\n");
  const check = (value: unknown, target: number) => (typeof value === "number" ? (value <= target ? "met" : "MISSED") : "not measured");
  const cpu = fig.suiteCpu as CpuSplit | undefined;
  const rows: Array<[string, unknown, string]> = [
    ["no-change image rebuild (s)", fig.noChangeRebuildS, `≤ ${TARGETS.noChangeRebuildS}: ${check(fig.noChangeRebuildS, TARGETS.noChangeRebuildS)}`],
    ["testbed boot (s)", fig.bootS, `≤ ${TARGETS.bootS}: ${check(fig.bootS, TARGETS.bootS)}`],
    ["sandbox, command to table (s)", fig.sandboxS, `≤ ${TARGETS.sandboxS}: ${check(fig.sandboxS, TARGETS.sandboxS)}`],
    ["sandbox --fresh (s)", fig.sandboxFreshS, ""],
    ["floor (s)", fig.floorS, ""],
    ["harness ÷ floor, sandbox path", fig.ratioSandboxToFloor, `≤ ${TARGETS.ratio}: ${check(fig.ratioSandboxToFloor, TARGETS.ratio)}`],
    ["harness ÷ floor, sandbox --fresh", fig.ratioFreshSandboxToFloor, ""],
    [`the gate, ${GATE_PROJECT}, warm (s)`, fig.gateS, `≤ ${TARGETS.gateS}: ${check(fig.gateS, TARGETS.gateS)}; passed: ${fig.gatePassed}; failed requests: ${fig.gateFailedRequests}`],
    ["whole npm test (s)", fig.suiteS, `≤ ${TARGETS.suiteS}: ${check(fig.suiteS, TARGETS.suiteS)}`],
    ...Object.entries((fig.suiteByPlatform ?? {}) as Record<string, { s: number; summary: string }>).map(
      ([spec, r]): [string, unknown, string] => [`  npm test on ${spec} (s)`, r.s, r.summary],
    ),
    ["  its CPU, all cores (core-s)", cpu?.totalS, cpu ? `containers ${cpu.containersS ?? "?"}, the engine (dockerd, containerd, their helpers) ${cpu.daemonsS}, the rest (vitest, harness, runc, kernel) ${cpu.restS ?? "?"}` : ""],
    ["  containers' and engine's work alone, every core busy (s)", cpu?.leastWallS, "the least wall time any harness could reach for these specs"],
    [`npm test in ${values.shards} shards, slowest shard alone (s)`, fig.shardedSuiteS, `each: ${JSON.stringify(fig.shardsS ?? [])}`],
    ["cold, from nothing, to sandbox table (s)", fig.coldSandboxS, `≤ ${TARGETS.coldS}: ${check(fig.coldSandboxS, TARGETS.coldS)}`],
    ["cold image build, base included (s)", fig.coldImagesWithBaseS, ""],
    ["cold image build, base kept (s)", fig.coldImagesWithoutBaseS, ""],
    ["testbed peak memory (GiB)", fig.testbedPeakMemoryGiB, `≤ ${TARGETS.memoryGiB}: ${check(fig.testbedPeakMemoryGiB, TARGETS.memoryGiB)}`],
    ["prod deploy, requirements unchanged (s)", fig.deployUnchangedRequirementsS, `≤ ${TARGETS.deployUnchangedS}: ${check(fig.deployUnchangedRequirementsS, TARGETS.deployUnchangedS)}`],
    ["prod deploy, requirements changed (s)", fig.deployChangedRequirementsS, ""],
    [`  ${(fig.shapeDeploy as { shape?: string })?.shape ?? "a fixture shape"}: prod deploy, requirements unchanged (s)`, (fig.shapeDeploy as { deployUnchangedRequirementsS?: number })?.deployUnchangedRequirementsS, `its first deploy (a new venv): ${(fig.shapeDeploy as { firstDeployS?: number })?.firstDeployS ?? "-"} s`],
    ["prod deploy under 4 clients (s)", fig.deployUnderTrafficS, ""],
    ["failed requests during our deploys", (fig.deployUnderTraffic as { failed?: number })?.failed, `= 0: ${(fig.deployUnderTraffic as { failed?: number })?.failed === 0 ? "met" : "MISSED"}`],
    ["p99 latency during our deploys (ms)", (fig.deployUnderTraffic as { p99Ms?: number })?.p99Ms, ""],
    ["failed: the seed's restart (reported)", (fig.seedRestart as { failed?: number })?.failed, `of ${(fig.seedRestart as { requests?: number })?.requests}`],
    ["failed: our socket-held restart", (fig.socketActivatedRestart as { failed?: number })?.failed, `of ${(fig.socketActivatedRestart as { requests?: number })?.requests}`],
    ["failed: HUP after a switch", (fig.hupAfterSwitch as { failed?: number })?.failed, `serves the new release: ${(fig.hupAfterSwitch as { servesSwitchedRelease?: boolean })?.servesSwitchedRelease}`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(`\n${rows.map(([k, v, t]) => `${k.padEnd(w)}  ${String(v ?? "-").padStart(6)}  ${t}`).join("\n")}\n`);
  process.stdout.write(`\nprovisioning steps (s): ${JSON.stringify(fig.provisionSteps)}\ndeploys (s): ${JSON.stringify(fig.deploys)}\n`);
  process.stdout.write(`prod deploy steps, requirements unchanged (s): ${JSON.stringify(fig.deployUnchangedRequirementsSteps)}\n`);
  process.stdout.write(`slowest spec files (s): ${JSON.stringify(fig.slowestFiles ?? [])}\n`);
  process.stdout.write(`\nwritten to reports/bench.json (${report.machine.cpus} cores, ${report.machine.memoryGiB} GiB, engine ${info.Version})\n`);
});
