import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { XMLParser } from "fast-xml-parser";
import { describe, expect } from "vitest";
import type { EnvName } from "../../harness/domain/envs.ts";
import { PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { serverState, stateDiff } from "../../harness/probes/server-state.ts";
import { checklist } from "../../harness/release/tool.ts";
import { sh } from "../../harness/shell/quote.ts";
import { SshRunner } from "../../harness/shell/ssh.ts";
import type { StartedTestbed } from "../../harness/testbed/testbed.ts";
import { failedIds, verifyEnvironment, type VerifyReport } from "../../harness/verify/verify.ts";
import { jobLogs, onTestbed, pipelineTestbed, type Shared } from "./support.ts";
import type { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { childEnv } from "../../harness/plumbing/settings.ts";

// `npm run verify` against a server as a remote host: through its published ssh port with an
// environment's CI key (forced to the release tool) and through nginx's published port; never
// docker exec, which only the spec's own before-and-after look uses.
const shared = pipelineTestbed();
type S = Shared<PipelineDeployment>;
const run = promisify(execFile);

/** npm run verify as a person types it; its exit code, output, and JUnit file. */
async function verifyCli(s: S, env: EnvName, extra: string[] = []): Promise<{ code: number; stdout: string; junit: string }> {
  const dir = await mkdtemp(join(tmpdir(), "ddt-verify-"));
  try {
    const e = s.tb.env(env);
    const args = ["--import", "tsx", "scripts/verify.ts", "--host", `${e.user}@127.0.0.1:${s.tb.app.mappedPort(22)}`, "--identity", s.data.keyFor(env).path, "--known-hosts", s.tb.knownHostsPath, "--env", env, "--url", s.tb.url(env), "--junit", join(dir, "verify.xml"), ...extra];
    const r = await run(process.execPath, args, { cwd: PROJECT_ROOT, env: childEnv({ TESTBED_QUIET: "1" }) }).then((x) => ({ code: 0, ...x }), (e: { code: number; stdout: string; stderr: string }) => e);
    if (r.code !== 0 && !r.stdout) throw new Error(`npm run verify failed to run: ${r.stderr}`);
    return { code: r.code, stdout: r.stdout, junit: await readFile(join(dir, "verify.xml"), "utf8") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The JUnit file's failing testcases, by check id. */
function junitFailures(xml: string): string[] {
  const doc = new XMLParser({ ignoreAttributes: false }).parse(xml) as { testsuites: { testsuite: { testcase: Array<{ "@_name": string; failure?: unknown }> } } };
  return [doc.testsuites.testsuite.testcase].flat().filter((c) => c.failure !== undefined).map((c) => c["@_name"].split(":")[0]!);
}

const appState = (tb: StartedTestbed) => serverState(tb.app.exec, [tb.envs[0]!.home, "/etc/systemd/system", "/etc/nginx", "/etc/sudoers.d"], ["gunicorn*", "nginx.service"]);

describe("npm run verify, against a server over plain ssh", () => {
  onTestbed(shared, "passes every check of the checklist on a deployed environment, with its CI key, and changes nothing on the server", async (s) => {
    const prod = s.tb.env("prod");
    const before = await appState(s.tb);
    const runner = await SshRunner.connect("app server", s.tb.app.sshConfig(prod.user, s.data.keyFor("prod").private as never), { plain: true });
    let report: VerifyReport;
    try {
      report = await verifyEnvironment({ runner, config: s.tb.config, env: prod, baseUrl: s.tb.url("prod") });
    } finally {
      runner.dispose();
    }
    expect(failedIds(report), JSON.stringify(report.results.filter((r) => r.status === "failed"), null, 1)).toEqual([]);
    expect(report.results.map((r) => r.id)).toEqual(checklist().map((c) => c.id));
    expect(report.results.filter((r) => r.status === "passed")).toHaveLength(checklist().length);
    expect(report.live).toBe((await s.tb.app.exec.run(sh`basename "$(readlink -f ${prod.dir})"`)).stdout.trim());
    expect(stateDiff(before, await appState(s.tb)), "verify changed the server").toBe("");

    const cli = await verifyCli(s, "prod", ["--json"]);
    expect(cli.code, cli.stdout).toBe(0);
    expect((JSON.parse(cli.stdout) as VerifyReport).results.every((r) => r.status === "passed")).toBe(true);
    expect(junitFailures(cli.junit)).toEqual([]);
  });

  onTestbed(shared, "names each broken thing in its table and its JUnit, exits 1: a stopped unit (and so no workers), a wrong socket group, a world-readable environment file, an unapplied migration, a missing static file", async (s) => {
    const { tb } = s;
    const [dev, staging, prod] = [tb.env("dev"), tb.env("staging"), tb.env("prod")];
    const hba = (sql: string) => tb.db.exec.run(sh`runuser -u postgres -- psql -d ${prod.database} -tAc ${sql}`);
    const lastMigration = (await hba("SELECT id, app, name, applied FROM django_migrations ORDER BY id DESC LIMIT 1")).stdout.trim().split("|");
    const staticFile = (await tb.app.exec.run(sh`cd ${`${prod.dir}/.static/`} && find -L . -type f ! -path './admin/*' | sort | head -1`)).stdout.trim();
    const staticPath = `${prod.dir}/.static/${staticFile}`;
    try {
      await tb.app.exec.run(sh`systemctl stop ${`${dev.unit}.socket`} ${dev.unit}`);
      await tb.app.exec.run(sh`chgrp root ${staging.socket} && chmod 644 ${staging.envFile}`);
      await hba(`DELETE FROM django_migrations WHERE id = ${Number(lastMigration[0])}`);
      await tb.app.exec.run(sh`mv ${staticPath} ${`${staticPath}.testbed-moved`}`);

      const expected: Record<EnvName, string[]> = {
        dev: ["unit-active", "workers", "socket-listening", "health"],
        staging: ["socket-owner", "env-file-private", "health"],
        prod: ["migrations-applied", "static-bytes"],
      };
      for (const env of ["dev", "staging", "prod"] as const) {
        const r = await verifyCli(s, env);
        expect(r.code, r.stdout).toBe(1);
        for (const id of expected[env]) expect(r.stdout, `${env}: ${id}`).toMatch(new RegExp(`^  FAIL ${id}: `, "m"));
        const failed = r.stdout.split("\n").filter((l) => l.startsWith("  FAIL ")).map((l) => l.slice(7).split(":")[0]);
        expect(failed.sort(), `${env}:\n${r.stdout}`).toEqual([...expected[env]].sort());
        expect(junitFailures(r.junit).sort()).toEqual([...expected[env]].sort());
        expect(r.stdout).toMatch(/seen: .+\n\s+expected .+; look at /);
      }
      const prodReport = (await verifyCli(s, "prod")).stdout;
      expect(prodReport).toContain(`unapplied: ${lastMigration[1]}.${lastMigration[2]}`);
      expect(prodReport).toContain(`/static/${staticFile.replace(/^\.\//, "")}: 404`);
    } finally {
      await tb.app.exec.run(sh`mv ${`${staticPath}.testbed-moved`} ${staticPath}`, { allowFailure: true });
      await hba(`INSERT INTO django_migrations (id, app, name, applied) VALUES (${Number(lastMigration[0])}, '${lastMigration[1]}', '${lastMigration[2]}', '${lastMigration[3]}') ON CONFLICT DO NOTHING`);
      await tb.app.exec.run(sh`chmod 600 ${staging.envFile} && chgrp www-data ${staging.socket}; systemctl start ${dev.unit}`);
    }
    for (const env of ["dev", "staging", "prod"] as const) expect((await verifyCli(s, env, ["--retry-timeout", "10"])).code, `${env} after the repairs`).toBe(0);
  });
});

describe("the generated pipeline's verify job", () => {
  onTestbed(shared, "runs after the deploy with the environment's key and passes; with a world-readable environment file it fails, naming the check", async (s) => {
    const prod = s.tb.env("prod");
    const { result } = await s.data.deploy({ env: "prod" }, { pipeline: { verify: true } });
    const logs = jobLogs(result);
    expect(result.jobs.map((j) => [j.name, j.status]), logs).toEqual([["production", "success"], ["verify-production", "success"]]);
    // The job runs the tool on the server: every check but the outside view, which needs a visitor.
    expect(logs).toContain(`prod: all ${checklist().filter((c) => c.side !== "outside").length} checks passed`);
    await s.tb.app.exec.run(sh`chmod 644 ${prod.envFile}`);
    try {
      // A short retry: the file stays broken, so the job's 30 s would only be waited out.
      const broken = await s.data.deploy({ env: "prod" }, { pipeline: { verify: true, verifyRetrySeconds: 2 }, jobs: ["verify-production"] });
      const brokenLogs = jobLogs(broken.result);
      expect(broken.result.status, brokenLogs).toBe("failed");
      expect(brokenLogs).toMatch(/FAIL env-file-private: the environment file is readable by the environment's user only/);
      expect(brokenLogs).toMatch(/seen: .*mode 644/);
    } finally {
      await s.tb.app.exec.run(sh`chmod 600 ${prod.envFile}`);
    }
  });
});
