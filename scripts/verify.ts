// npm run verify: the checklist against a live server over plain ssh, or against the running sandbox.
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG, environments, parseEnvNames, type EnvName } from "../harness/domain/envs.ts";
import { attachSandbox } from "../harness/sandbox/deploy-rollback.ts";
import { knownHostKeys } from "../harness/shell/known-hosts.ts";
import { SshRunner } from "../harness/shell/ssh.ts";
import { reportJunit, reportTable } from "../harness/verify/report.ts";
import { passed, verifyEnvironment, type VerifyReport, type VerifyTarget } from "../harness/verify/verify.ts";
import { log, main } from "./cli.ts";

const USAGE = `usage: npm run verify -- --host USER@HOST[:PORT] --identity KEY [--known-hosts FILE] --env ENV[,ENV]
                          [--name PROJECT] [--url http://HOST:PORT] [--json] [--junit FILE] [--retry-timeout SECONDS]
       npm run verify -- --sandbox [--id ID] --env ENV[,ENV] [--json] [--junit FILE] [--retry-timeout SECONDS]

Checks a deployed environment, read-only: the units and socket, the socket's owner and mode, the live
release, migrations, the environment file's mode, sudo, the other environments' trees, DEBUG, and
through nginx the health path and static files. USER is the environment's user (the CI key's forced
command allows the check; an operator's key works alike). --name is the deploy's name (the release
tool is <name>-release; default myproject). --url defaults to http://HOST:<the environment's port>.
Exit code 0 only if every check passed.`;

/** USER@HOST[:PORT] */
function parseHost(value: string): { user: string; host: string; port: number } {
  const m = /^([a-z_][a-z0-9_-]*)@([^:@\s]+)(?::(\d+))?$/.exec(value);
  if (!m) throw new Error(`--host ${value}: expected USER@HOST[:PORT], e.g. myapp-prod@app.example.com:22\n${USAGE}`);
  return { user: m[1]!, host: m[2]!, port: Number(m[3] ?? 22) };
}

async function targetsOnHost(values: Record<string, string | boolean | undefined>, envs: EnvName[]): Promise<VerifyTarget[]> {
  const { user, host, port } = parseHost(String(values.host));
  if (!values.identity) throw new Error(`--identity KEY is required with --host (the private key ssh logs in with)\n${USAGE}`);
  const identity = String(values.identity);
  if (!existsSync(identity)) throw new Error(`--identity ${identity}: no such file`);
  const knownHostsFile = String(values["known-hosts"] ?? join(homedir(), ".ssh", "known_hosts"));
  const expected = existsSync(knownHostsFile) ? knownHostKeys(readFileSync(knownHostsFile, "utf8"), host, port) : [];
  if (!expected.length) throw new Error(`${knownHostsFile}: no host key for ${port === 22 ? host : `[${host}]:${port}`}; add it (ssh-keyscan -p ${port} ${host} >> ${knownHostsFile}) after checking its fingerprint, or pass --known-hosts FILE`);
  // Only the tool's name and the environments' ports come from here; the server's tool knows the rest.
  const config = { ...DEFAULT_CONFIG, project: String(values.name ?? DEFAULT_CONFIG.project) };
  const table = environments(config);
  const targets: VerifyTarget[] = [];
  for (const name of envs) {
    const env = { ...table.find((e) => e.name === name)!, user };
    const runner = await SshRunner.connect(host, {
      host,
      port,
      username: user,
      privateKey: readFileSync(identity, "utf8"),
      readyTimeout: 15_000,
      hostVerifier: (key: Buffer) => expected.includes(key.toString("base64")),
    } as never, { plain: true });
    targets.push({ runner, config, env, baseUrl: String(values.url ?? `http://${host}:${env.port}`) });
  }
  return targets;
}

async function targetsOnSandbox(id: string | undefined, envs: EnvName[]): Promise<VerifyTarget[]> {
  const deployment = await attachSandbox(id, log);
  const tb = deployment.tb;
  // As a remote host: through the published ssh port, as the environment's user, with the operator's key.
  return Promise.all(
    envs.map(async (name) => {
      const env = tb.env(name);
      const runner = await SshRunner.connect(`sandbox ${tb.id} app server (ssh)`, tb.app.sshConfig(env.user, deployment.keys.operator.private as never));
      return { runner, config: tb.config, env, baseUrl: tb.url(name) };
    }),
  );
}

void main(async () => {
  const { values } = parseArgs({
    options: {
      host: { type: "string" },
      identity: { type: "string" },
      "known-hosts": { type: "string" },
      env: { type: "string" },
      name: { type: "string" },
      url: { type: "string" },
      sandbox: { type: "boolean" },
      id: { type: "string" },
      json: { type: "boolean" },
      junit: { type: "string" },
      "retry-timeout": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (!values.env) throw new Error(`--env is required (dev, staging or prod; several with commas)\n${USAGE}`);
  if (!values.sandbox === !values.host) throw new Error(`give --host USER@HOST (a server) or --sandbox (the running sandbox)\n${USAGE}`);
  const retry = values["retry-timeout"] === undefined ? 0 : Number(values["retry-timeout"]);
  if (!Number.isFinite(retry) || retry < 0) throw new Error(`--retry-timeout ${values["retry-timeout"]}: a number of seconds\n${USAGE}`);
  const envs = parseEnvNames(values.env);
  const targets = values.sandbox ? await targetsOnSandbox(values.id, envs) : await targetsOnHost(values, envs);
  const reports: VerifyReport[] = [];
  try {
    for (const t of targets) reports.push(await verifyEnvironment(t, { retryTimeoutMs: retry * 1000 }));
  } finally {
    for (const t of targets) (t.runner as SshRunner).dispose();
  }
  process.stdout.write(values.json ? `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n` : reports.map(reportTable).join("\n"));
  if (values.junit) await writeFile(values.junit, reportJunit(reports));
  return reports.every(passed) ? 0 : 1;
});
