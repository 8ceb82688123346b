import type { PipelineResult } from "../../harness/pipeline/executor.ts";
import { describe, expect } from "vitest";
import type { EnvName } from "../../harness/domain/envs.ts";
import { expectDeployed, expectNoKeyIn, mainPids, releaseCommandsRan } from "./checks.ts";
import { deployUnderTraffic, withCommit, expectNoFailedRequests, jobLogs, onTestbed, pipelineTestbed, servedCommit } from "./support.ts";
import { generateKeyPair } from "../../harness/testbed/keys.ts";
import { failingMigration, modelWithoutMigration, touchFile } from "../../harness/project/changes.ts";
import { LABEL } from "../../harness/docker/labels.ts";
import { docker } from "../../harness/docker/client.ts";
import { waitFor } from "../../harness/plumbing/deadline.ts";
import { releaseToolName } from "../../harness/release/tool.ts";

const shared = pipelineTestbed();

const cases: Array<[branch: string, job: string, env: EnvName]> = [
  ["feature/login", "dev", "dev"],
  ["staging", "staging", "staging"],
  ["master", "production", "prod"],
];

describe("the generated pipeline, branch by branch", () => {
  for (const [branch, job, env] of cases) {
    onTestbed(shared, `${branch} runs only ${job}, which deploys ${env} and leaves the others alone`, async ({ tb, data }) => {
      await data.repo.branch(branch, tb.config.defaultBranch);
      const before = await mainPids(tb);
      const { result } = await data.deploy({ branch });
      const logs = jobLogs(result);
      const ran = result.jobs.map((j) => j.name);
      expect(ran, `${branch} ran ${ran.join(", ") || "no job"}, not only ${job}\n${logs}`).toEqual([job]);
      expect(result.status, logs).toBe("success");
      expectNoKeyIn(logs, data.keyFor(env).private);
      await expectDeployed(tb, env, data.repo.dir, data.project);
      const after = await mainPids(tb);
      expect(after[env]).not.toBe(before[env]);
      for (const other of tb.envs.filter((e) => e.name !== env)) expect(after[other.name], other.name).toBe(before[other.name]);
    });
  }
});

/** Every file of prod (releases, venvs, the live link) with its size and time: any change shows here. */
const serverState = (s: ReturnType<typeof shared>) =>
  s.tb.app.exec.run(`find ${s.tb.env("prod").root} -path '*/__pycache__' -prune -o ! -name '*.sock' -printf '%P %s %T@ %l\\n' | sort`).then((r) => r.stdout);

describe("pipelines that must fail", () => {
  onTestbed(shared, "a wrong private key fails, says why, and changes nothing", async (s) => {
    const intruder = generateKeyPair();
    const before = await serverState(s);
    const { result: r } = await s.data.deploy({ branch: s.tb.config.defaultBranch }, { variables: { SSH_PRIVATE_KEY: intruder.private } });
    const logs = jobLogs(r);
    expect(r.status, logs).toBe("failed");
    expect(r.jobs[0]!.exitCode).not.toBe(0);
    expect(logs).toMatch(/Permission denied \(publickey\)/);
    expectNoKeyIn(logs, intruder.private);
    expect(await serverState(s)).toBe(before);
  });

  onTestbed(shared, "SSH_KNOWN_HOSTS without this server fails, says why, and changes nothing", async (s) => {
    const other = generateKeyPair().public.split(" ").slice(0, 2).join(" ");
    const before = await serverState(s);
    const { result: r } = await s.data.deploy({ branch: s.tb.config.defaultBranch }, { variables: { SSH_KNOWN_HOSTS: `some-other-server ${other}` } });
    const logs = jobLogs(r);
    expect(r.status, logs).toBe("failed");
    expect(logs).toMatch(/Host key verification failed/);
    expect(await serverState(s)).toBe(before);
  });

  onTestbed(shared, "a host key that does not match the server fails, says why, and changes nothing", async (s) => {
    const impostor = generateKeyPair().public.split(" ").slice(0, 2).join(" ");
    const before = await serverState(s);
    const { result: r } = await s.data.deploy({ branch: s.tb.config.defaultBranch }, { variables: { SSH_KNOWN_HOSTS: `myappserver ${impostor}` } });
    const logs = jobLogs(r);
    expect(r.status, logs).toBe("failed");
    expect(logs).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    expectNoKeyIn(logs, s.data.keyFor("prod").private);
    expect(await serverState(s)).toBe(before);
  });

  onTestbed(shared, "a migration that raises on the server fails the pipeline with the command and its output; the previous release keeps serving", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const served = await servedCommit(s.tb, "prod");
    const failing = failingMigration(s.data.repo.dir, s.data.project);
    const tool = releaseToolName(s.tb.config);
    await withCommit(s, branch, "A migration that fails", failing.changes, async () => {
      const { result: r, traffic } = await deployUnderTraffic(s, branch);
      const logs = jobLogs(r);
      expect(r.status, logs).toBe("failed");
      // The order first: a switch before migrate is the cause to report, whatever else differs.
      const ran = releaseCommandsRan(logs, "prod", tool).map(([step]) => step);
      expect(ran, `the job ran ${ran.join(" → ")}: "switch" ran before the failing "migrate", so the release went live before its migrations`).not.toContain("switch");
      expect(logs).toContain(`$ ssh deploy-target ${tool} prod prepare "$RELEASE" check collectstatic migrate\n`);
      expect(logs).toContain(failing.message);
      expect(logs).toContain(`${tool}: prod: migrate failed: manage.py migrate raised the error above`);
      // One Django process ran the three steps: the two before migrate finished, each named.
      expect(logs).toMatch(new RegExp(`${tool}: prod: check done in [\\d.]+ s\\n[^]*${tool}: prod: collectstatic done in`));
      expect(logs).not.toContain("prod: migrate done in");
      expect(logs).toMatch(/ERROR: Job failed: exit code 1/);
      expectNoKeyIn(logs, s.data.keyFor("prod").private);
      expectNoFailedRequests(traffic, "prod", "the deploy");
      expect(traffic.commits).toEqual([served]);
      expect(await servedCommit(s.tb, "prod")).toBe(served);
    });
  });
  onTestbed(shared, "--check-migrations: a model changed without its migration stops the deploy at check, naming the app and model; nothing goes live", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const served = await servedCommit(s.tb, "prod");
    const change = modelWithoutMigration(s.data.repo.dir, s.data.project);
    const tool = releaseToolName(s.tb.config);
    await withCommit(s, branch, "A model without its migration", change.changes, async () => {
      const { result: r } = await s.data.deploy({ branch }, { pipeline: { checkMigrations: true } });
      const logs = jobLogs(r);
      expect(r.status, logs).toBe("failed");
      expect(logs).toContain(`$ ssh deploy-target ${tool} prod prepare "$RELEASE" check collectstatic migrate --migrations\n`);
      expect(logs).toContain(`Migrations for '${change.app}':`);
      expect(logs).toMatch(new RegExp(`Create model ${change.model}`));
      expect(logs).toContain(`${tool}: prod: check failed`);
      expect(releaseCommandsRan(logs, "prod", tool).map(([step]) => step)).not.toContain("switch");
      expect(logs).not.toContain("prod: collectstatic done in");
      expect(await servedCommit(s.tb, "prod")).toBe(served);
    });
  });
});

describe("a rollback argument from a person, as an attacker would write it", () => {
  onTestbed(shared, "ROLLBACK_TO with ; or $(...) is refused before ssh, and runs nothing on the server", async (s) => {
    const marker = "/tmp/ddt-rollback-injection";
    for (const to of [`x; touch ${marker}`, `$(touch ${marker})`, `\`touch ${marker}\``]) {
      const { result } = await s.data.rollback("prod", { to });
      const logs = jobLogs(result);
      expect(result.status, logs).toBe("failed");
      expect(logs).toContain("ERROR: ROLLBACK_TO must be a release or a commit");
      expect(logs).not.toContain(`$ ssh deploy-target ${releaseToolName(s.tb.config)} prod rollback`);
      expect((await s.tb.app.exec.run(`test -e ${marker}`, { allowFailure: true })).exitCode, `${to} ran on the server`).not.toBe(0);
    }
  });
});

describe("overlapping deploys", () => {
  onTestbed(shared, "two pipelines for one environment, started together, run their deploy jobs one after the other (resource_group)", async (s) => {
    // A branch at the default branch, which every test leaves at a good commit.
    await s.data.repo.branch("feature/overlap", s.tb.config.defaultBranch);
    const [a, b] = (await Promise.all([s.data.deploy({ branch: "feature/overlap" }), s.data.deploy({ branch: "feature/overlap" })])).map((o) => o.result) as [PipelineResult, PipelineResult];
    // The order first: two deploys that overlap break each other, and that is the cause to report.
    const [first, second] = [a.jobs[0]!, b.jobs[0]!].sort((x, y) => x.startedAt - y.startedAt);
    const overlap = `the second deploy job started ${first!.finishedAt - second!.startedAt} ms before the first finished (${first!.startedAt}–${first!.finishedAt} and ${second!.startedAt}–${second!.finishedAt}); deploys of one environment must run one after the other (resource_group)`;
    expect(second!.startedAt, overlap).toBeGreaterThanOrEqual(first!.finishedAt);
    for (const r of [a, b]) expect(r.status, jobLogs(r)).toBe("success");
  });
});

describe("the rollback job", () => {
  onTestbed(shared, "waits for a running deploy of its environment (one resource_group), then rolls back to the release before it and verifies that it serves", async (s) => {
    const branch = s.tb.config.defaultBranch;
    const before = await servedCommit(s.tb, "prod");
    await withCommit(s, branch, "A release to roll back from", touchFile("rollback-me.txt", "roll me back\n"), async () => {
      const deploying = s.data.deploy({ branch });
      // The rollback is started once the deploy's job runs: from then on it holds prod's resource group.
      const jobs = () => docker().listContainers({ filters: { label: [`${LABEL.testbed}=${s.tb.id}`, `${LABEL.kind}=job`] } });
      await waitFor("the deploy job's container", async () => ((await jobs()).length > 0 ? true : undefined), { timeoutMs: 60_000 });
      const [deploy, rollback] = await Promise.all([deploying, s.data.rollback("prod")]);
      const [d, r] = [deploy.result.jobs[0]!, rollback.result.jobs[0]!];
      expect(deploy.result.status, jobLogs(deploy.result)).toBe("success");
      expect(r.startedAt, `the rollback job started ${d.finishedAt - r.startedAt} ms before the deploy job finished: one environment's jobs must run one after the other`).toBeGreaterThanOrEqual(d.finishedAt);
      const logs = jobLogs(rollback.result);
      expect(rollback.result.status, logs).toBe("success");
      const tool = releaseToolName(s.tb.config);
      expect(releaseCommandsRan(logs, "prod", tool).map(([step]) => step)).toEqual(["rollback", "verify"]);
      expect(logs).toMatch(new RegExp(`${tool}: prod: \\S+ \\(${before.slice(0, 8)}\\) serves ${s.data.project.health.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} through nginx on port ${s.tb.env("prod").port}`));
      expect(await servedCommit(s.tb, "prod")).toBe(before);
    });
  });
});
