import { stringify } from "yaml";
import { describe, expect } from "vitest";
import { waitFor } from "../../harness/plumbing/deadline.ts";
import { runPipeline, type VariableValue } from "../../harness/pipeline/executor.ts";
import { pipelineObject, setupScript } from "../../harness/pipeline/generate.ts";
import { commandTimings, plainLog } from "../../harness/pipeline/job-script.ts";
import { releaseToolName } from "../../harness/release/tool.ts";
import { sh } from "../../harness/shell/quote.ts";
import type { StartedTestbed } from "../../harness/testbed/testbed.ts";
import { expectNoKeyIn } from "./checks.ts";
import { jobLogs, log, onTestbed, pipelineTestbed } from "./support.ts";

// The generated job's ssh setup, run for real: what each of its options does, not what it says.
const shared = pipelineTestbed();
type S = ReturnType<typeof shared>;

// One job in prod's environment (its scoped key), as prod's user: the generated pipeline's ssh
// setup, then `script` (by default, one command the key's forced command allows: the release tool's
// read-only `current`).
const current = (s: S) => `ssh deploy-target ${releaseToolName(s.tb.config)} prod current`;
const pipeline = (s: S, script: string[]) =>
  stringify({
    stages: ["deploy"],
    variables: pipelineObject({ config: s.tb.config }).variables,
    check: { stage: "deploy", image: "$DEPLOY_IMAGE", environment: { name: "prod" }, variables: { DEPLOY_USER: s.tb.env("prod").user }, before_script: setupScript(), script },
  });
const runWith = (s: S, variables: Record<string, VariableValue>, script = [current(s), "echo connected over ssh"]) =>
  runPipeline({ pipeline: pipeline(s, script), repo: s.data.repo, branch: s.tb.config.defaultBranch, defaultBranch: s.tb.config.defaultBranch, variables: s.data.variables, environmentVariables: s.data.environmentVariables, pipelineVariables: variables, network: s.tb.network, testbedId: s.tb.id, log, hooks: s.tb.hooks });

/** How long the job's first command starting with `start` took, read from the job log's own time marks. */
const took = (jobLog: string, start: string) => {
  const t = commandTimings(jobLog).find((c) => c.command.startsWith(start));
  if (!t) throw new Error(`no command starting "${start}" in the job log:\n${plainLog(jobLog)}`);
  return t.ms;
};

/**
 * The logins sshd accepted for `user` since `since` (the app server's clock, in seconds), and
 * sshd's lines since then for a failure message.
 *
 * Read by each entry's own time, not `--after-cursor`: the server starts with the snapshot's
 * journal files beside new ones, and the cursor taken before a job named an old entry (i=138 of
 * a file already past 200) after which nothing sorted: 0 logins for a job that had logged in, and
 * a marker logged later never found. And journald reads the syslog socket in the background, so a
 * marker goes down that same socket after the job and the count waits until journald has it:
 * every line sshd wrote before it is then in the journal too.
 */
async function acceptedLogins(tb: StartedTestbed, user: string, since: number): Promise<{ logins: string[]; sshd: string }> {
  const marker = `ddt-after-job-${Date.now()}`;
  await tb.app.exec.run(sh`logger -t ddt-marker ${marker}`);
  await waitFor(`journald never logged the marker ${marker}`, async () => ((await tb.app.exec.run("journalctl -q -o cat -t ddt-marker")).stdout.split("\n").includes(marker) ? true : undefined), { timeoutMs: 30_000 });
  const lines = (await tb.app.exec.run("journalctl -q -o short-unix _COMM=sshd")).stdout.split("\n");
  const recent = lines.map((l) => l.match(/^(\d+\.\d+) \S+ sshd\[\d+\]: (.*)$/)).filter((m) => m !== null && Number(m[1]) >= since).map((m) => m![2]!);
  return { logins: recent.filter((l) => l.startsWith(`Accepted publickey for ${user} `)), sshd: recent.join("\n") };
}
/** The app server's clock now, in seconds (with microseconds), as the journal stamps entries. */
const serverNow = async (tb: StartedTestbed) => Number((await tb.app.exec.run("date +%s.%6N")).stdout.trim());

describe("the job's ssh setup, as people paste keys and host keys into CI/CD variables", () => {
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

  onTestbed(shared, "an empty SSH_PRIVATE_KEY stops the job at once, saying which variable and where to set it", async (s) => {
    const r = await runWith(s, { SSH_PRIVATE_KEY: "" });
    const logs = jobLogs(r);
    expect(r.status, logs).toBe("failed");
    expect(logs).toContain("ERROR: the CI/CD variable SSH_PRIVATE_KEY is empty or not set; set it under Settings > CI/CD > Variables");
    expect(logs).not.toContain("$ ssh deploy-target");
  });

  onTestbed(shared, "inside the job the key is mode 600, and ssh itself reads BatchMode, IdentitiesOnly, StrictHostKeyChecking and one shared connection from the setup", async (s) => {
    const r = await runWith(s, {}, ["stat -c '%n %a' ~/.ssh/id_deploy ~/.ssh/known_hosts ~/.ssh", "ssh -G deploy-target | grep -E '^(batchmode|identitiesonly|stricthostkeychecking|controlmaster|connecttimeout) '"]);
    const logs = jobLogs(r);
    expect(r.status, logs).toBe("success");
    const modes = Object.fromEntries([...logs.matchAll(/^\/root\/\.ssh(\S*) (\d+)$/gm)].map((m) => [m[1] || "/", m[2]]));
    expect(modes).toEqual({ "/id_deploy": "600", "/known_hosts": "644", "/": "700" });
    for (const line of ["batchmode yes", "identitiesonly yes", "stricthostkeychecking true", "controlmaster auto", "connecttimeout 10"]) expect(logs).toContain(`\n${line}\n`);
  });
});

describe("what each ssh option does in a job", () => {
  onTestbed(shared, "a deploy job logs in once (ControlMaster), however many ssh and rsync commands it runs: sshd's own log counts the logins", async (s) => {
    const user = s.tb.env("prod").user;
    const since = await serverNow(s.tb);
    const { result } = await s.data.deploy({ env: "prod" });
    const logs = jobLogs(result);
    expect(result.status, logs).toBe("success");
    const commands = plainLog(result.jobs[0]!.log).split("\n").filter((l) => l.startsWith("$ ") && l.includes("deploy-target"));
    expect(commands.length, `the deploy job ran ${commands.length} commands over ssh:\n${commands.join("\n")}`).toBeGreaterThanOrEqual(4);
    const { logins, sshd } = await acceptedLogins(s.tb, user, since);
    expect(logins, `sshd accepted ${logins.length} logins for ${user} during one deploy job of ${commands.length} ssh commands; ControlMaster shares one. sshd's lines since the job began:\n${sshd}`).toHaveLength(1);
  });

  onTestbed(shared, "BatchMode: a key with a passphrase fails at once, even on a terminal, instead of waiting for someone to type it", async (s) => {
    // The key as someone might paste it: protected by a passphrase (encrypted in the job, so the
    // server knows its public half). `script` gives ssh a terminal, where it would otherwise ask.
    const r = await runWith(s, {}, [
      "ssh-keygen -p -q -P '' -N 'a passphrase' -f ~/.ssh/id_deploy >/dev/null",
      // The job's shell stops at a failed command (set -e): `||` keeps the line going to say how.
      `timeout 30 script -qec ${sh`${current(s)}`} /dev/null || echo "ssh exited $?"`,
    ]);
    const logs = jobLogs(r);
    expect(logs).not.toContain("Enter passphrase");
    expect(logs).toMatch(/Permission denied \(publickey\)/);
    expect(logs, "ssh was stopped by `timeout`: it waited for a passphrase").not.toContain("ssh exited 124");
    expect(logs).toContain("ssh exited 255");
  });

  onTestbed(shared, "a server that drops packets fails the job at ssh's ConnectTimeout (10 s), not the kernel's two minutes of SYN retries", async (s) => {
    // A black hole inside the testbed's own server: a listener whose accept queue one connection
    // fills and nobody empties, so the kernel drops every later SYN unanswered, as a firewall would.
    const port = 2299;
    const hole = `import socket, time\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(("0.0.0.0", ${port})); s.listen(0)\nc = socket.create_connection(("127.0.0.1", ${port}))\nprint("full", flush=True)\ntime.sleep(600)\n`;
    await s.tb.app.exec.run(sh`systemd-run --unit=ddt-black-hole --property=RuntimeMaxSec=600 python3 -c ${hole}`);
    try {
      await s.tb.app.exec.run(`for i in $(seq 100); do journalctl -q -o cat -u ddt-black-hole | grep -qx full && exit 0; sleep 0.1; done; exit 1`);
      const syn = Number((await s.tb.app.exec.run("cat /proc/sys/net/ipv4/tcp_syn_retries")).stdout.trim());
      // 1 s, then doubling at each retry: 127 s with the default 6.
      const kernelGivesUp = (2 ** (syn + 1) - 1) * 1000;
      const r = await runWith(s, { DEPLOY_PORT: String(port) });
      const logs = jobLogs(r);
      expect(r.status, logs).toBe("failed");
      expect(logs).toMatch(new RegExp(`ssh: connect to host myappserver port ${port}: Connection timed out`));
      const waited = took(r.jobs[0]!.log, "ssh deploy-target");
      expect(waited, `ssh gave up after ${waited} ms: under ConnectTimeout's 10 s, the packets were not dropped`).toBeGreaterThanOrEqual(9_500);
      expect(waited, `ssh gave up after ${waited} ms, as late as the kernel's ${kernelGivesUp} ms: ConnectTimeout did not act`).toBeLessThan(kernelGivesUp / 2);
    } finally {
      await s.tb.app.exec.run("systemctl stop ddt-black-hole", { allowFailure: true });
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
  });
});
