import { stringify } from "yaml";
import { runPipeline, type PipelineResult, type VariableValue } from "../../harness/pipeline/executor.ts";
import { pipelineObject, setupScript } from "../../harness/pipeline/generate.ts";
import { describe, expect } from "vitest";
import type { EnvName } from "../../harness/core/envs.ts";
import { expectDeployed, expectNoKeyIn, mainPids, releaseCommandsRan } from "./checks.ts";
import { deployUnderTraffic, expectNoFailedRequests, jobLogs, log, onTestbed, pipelineTestbed, sampleProject, servedCommit } from "./support.ts";
import { generateKeyPair } from "../../harness/testbed/keys.ts";
import { failingMigration } from "../../harness/project/changes.ts";
import { releaseToolName } from "../../harness/recipe/release.ts";

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
    await s.data.repo.commit(branch, "A migration that fails", failing.changes);
    try {
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
    } finally {
      // The default branch goes back to the last good commit, whatever the assertions find.
      await s.data.repo.git("revert", "--no-edit", "HEAD");
    }
  });
});

describe("keys and host keys as people paste them into CI/CD variables", () => {
  // One job in prod's environment (its scoped key), as prod's user: the generated pipeline's ssh
  // setup, then one command the key's forced command allows (the release tool's read-only `current`).
  const pipeline = (s: ReturnType<typeof shared>) =>
    stringify({
      stages: ["deploy"],
      variables: pipelineObject({ config: s.tb.config }).variables,
      check: {
        stage: "deploy",
        image: "$DEPLOY_IMAGE",
        environment: { name: "prod" },
        variables: { DEPLOY_USER: s.tb.env("prod").user },
        before_script: setupScript(),
        script: [`ssh deploy-target ${releaseToolName(s.tb.config)} prod current`, "echo connected over ssh"],
      },
    });
  const runWith = (s: ReturnType<typeof shared>, variables: Record<string, VariableValue>) =>
    runPipeline({ pipeline: pipeline(s), repo: s.data.repo, branch: s.tb.config.defaultBranch, defaultBranch: s.tb.config.defaultBranch, variables: s.data.variables, environmentVariables: s.data.environmentVariables, pipelineVariables: variables, network: s.tb.network, testbedId: s.tb.id, log, hooks: s.tb.hooks });

  onTestbed(shared, "CRLF line endings, blank lines around, no final newline, as File or plain variables: each connects, and no line of the key is logged", async (s) => {
    const key = s.data.keyFor("prod").private;
    const hosts = s.data.variables.SSH_KNOWN_HOSTS as string;
    const variants: Record<string, Record<string, VariableValue>> = {
      "plain key, CRLF, no final newline": { SSH_PRIVATE_KEY: key.replace(/\n/g, "\r\n").trimEnd() },
      "File key, blank lines around": { SSH_PRIVATE_KEY: { value: `\n\n${key}\n\n`, file: true } },
      "File key, no final newline": { SSH_PRIVATE_KEY: { value: key.trimEnd(), file: true } },
      "known_hosts, CRLF and blank lines, as a File": { SSH_KNOWN_HOSTS: { value: `\r\n${hosts}\r\n\r\n`, file: true } },
    };
    for (const [what, variables] of Object.entries(variants)) {
      const r = await runWith(s, variables);
      const logs = jobLogs(r);
      expect(r.status, `${what}\n${logs}`).toBe("success");
      expect(logs, what).toContain("connected over ssh");
      expectNoKeyIn(logs, key);
    }
  });

  onTestbed(shared, "a port that refuses fails the job as fast as a job that connects, naming the host and port", async (s) => {
    // Measured against a job that connects, in the same run on the same machine, not against a figure.
    const good = await runWith(s, {});
    expect(good.status, jobLogs(good)).toBe("success");
    const r = await runWith(s, { DEPLOY_PORT: "2" });
    const logs = jobLogs(r);
    expect(r.status, logs).toBe("failed");
    expect(logs).toMatch(/ssh: connect to host myappserver port 2: Connection refused/);
    expect(r.jobs[0]!.durationMs, `the refused job took ${r.jobs[0]!.durationMs} ms, the one that connected ${good.jobs[0]!.durationMs} ms`).toBeLessThan(2 * good.jobs[0]!.durationMs);
    expect(setupScript().join("\n")).toMatch(/ConnectTimeout 10\\n  ServerAliveInterval 15/);
  });

  onTestbed(shared, "an empty SSH_PRIVATE_KEY stops the job at once, saying which variable and where to set it", async (s) => {
    const r = await runWith(s, { SSH_PRIVATE_KEY: "" });
    const logs = jobLogs(r);
    expect(r.status, logs).toBe("failed");
    expect(logs).toContain("ERROR: the CI/CD variable SSH_PRIVATE_KEY is empty or not set; set it under Settings > CI/CD > Variables");
    expect(logs).not.toContain("$ ssh deploy-target");
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
