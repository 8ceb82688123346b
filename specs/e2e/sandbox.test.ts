import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { listLabelled } from "../../harness/docker/labels.ts";
import { PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { fixtureVariant } from "../../harness/domain/fixtures.ts";
import { failingMigration, touchFile } from "../../harness/project/changes.ts";
import { loadProject } from "../../harness/project/detect.ts";
import { sh } from "../../harness/shell/quote.ts";
import { selectedPlatform } from "../../harness/images/base-platform.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { TrafficProbe, trafficLine } from "../../harness/probes/traffic.ts";
import { Sandbox } from "../../harness/sandbox/start.ts";
import { attachSandbox, deployToSandbox, rollbackSandbox } from "../../harness/sandbox/deploy-rollback.ts";
import { expectNoFailedRequests, log, sampleProject, servedCommit, SPEC_TRAFFIC } from "./support.ts";
import { childEnv } from "../../harness/plumbing/settings.ts";

const run = promisify(execFile);
/** Runs a printed command line as a person would paste it, with `input` on its stdin. */
const paste = (command: string, input = "") => {
  const child = run("bash", ["-c", command], { timeout: 30_000 });
  child.child.stdin?.end(input);
  return child;
};

describe("sandbox", () => {
  it("prints working URLs, ssh and psql commands; deploys, survives a broken release and rolls back under constant traffic; leaves nothing", async () => {
    // One environment (a subset, as --env gives): the others are the same code path.
    const sandbox = new Sandbox({ envs: ["prod"], log });
    let id = "";
    try {
      const rows = await sandbox.start();
      const tb = sandbox.testbed!;
      id = tb.id;
      expect(id).toMatch(/^ddt-sandbox-/);
      expect(rows.map((r) => r.env)).toEqual(["prod"]);
      // The platform it prints is the one asked for, as the servers themselves report it.
      const platform = selectedPlatform();
      expect(sandbox.platform).toMatch(new RegExp(`^${platform.spec.replace(/[.:]/g, "\\$&")}, .+: Python 3\\.\\d+\\.\\d+, PostgreSQL \\d+, systemd \\d+, nginx 1\\.\\d+`));
      if (platform.suite) expect(sandbox.platform).toContain(`Debian GNU/Linux ${{ bookworm: "12", trixie: "13" }[platform.suite]} (${platform.suite})`);
      const project = loadProject(sampleProject());
      for (const row of rows) {
        expect(row.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
        const page = await httpGet(new URL(project.health, row.url).href);
        expect(page.status, `GET ${project.health} at the printed URL`).toBeLessThan(500);
        expect(page.headers["x-release"], "answered by a release").toBeTruthy();
      }
      // The printed commands, run exactly as printed: ssh logs in as the deploy user, checking the
      // host key; psql opens the environment's own database through the app server.
      expect((await paste(`${rows[0]!.ssh} whoami`)).stdout).toBe(`${tb.env("prod").user}\n`);
      const psql = await paste(rows[0]!.database, "SELECT current_database(), 1 + 1;\n");
      expect(psql.stdout).toMatch(new RegExp(`${tb.env("prod").database}\\s*\\|\\s*2`));

      // Another command attaches to it, as `npm run sandbox -- deploy` and `rollback` do.
      const handle = await attachSandbox(id, log);
      const first = await servedCommit(tb, "prod", project.health);
      // A user's upload before the deploys (where an upload view saves it): served the same after all of them.
      const upload = randomBytes(2048);
      await tb.app.exec.run(sh`base64 -d > ${`${tb.env("prod").media}/report.pdf`}`, { as: tb.env("prod").user, stdin: upload.toString("base64") });
      const uploadUrl = `${project.mediaUrl}report.pdf`;
      const probe = TrafficProbe.start(tb.url("prod", project.health), SPEC_TRAFFIC);
      let changed = "";
      try {
        await using changedProject = await fixtureVariant(touchFile("sandbox.txt", "changed in the sandbox\n"), sampleProject());
        await deployToSandbox(handle, { envs: ["prod"], projectDir: changedProject.dir, log });
        changed = await servedCommit(tb, "prod", project.health);
        expect(changed).not.toBe(first);
        expect((await tb.app.exec.run(sh`cat ${`${tb.env("prod").dir}/testbed-changes/sandbox.txt`}`)).stdout).toBe("changed in the sandbox\n");

        // Broken where only the server can tell (settings that do not import, preflight refuses before any deploy).
        await using broken = await fixtureVariant(failingMigration(sampleProject(), project).changes, sampleProject());
        const err = await deployToSandbox(handle, { envs: ["prod"], projectDir: broken.dir, log }).then(() => undefined, (e: Error) => e);
        expect(err?.message).toMatch(/the deploy failed for prod:[\s\S]*boom: this migration always fails/);
        expect(await servedCommit(tb, "prod", project.health)).toBe(changed);

        await rollbackSandbox(handle, { env: "prod", log });
        expect(await servedCommit(tb, "prod", project.health)).toBe(first);
        // The checklist against it as against a real server, through its published ports only.
        const verify = await run(process.execPath, ["--import", "tsx", "scripts/verify.ts", "--sandbox", "--id", id, "--env", "prod"], { cwd: PROJECT_ROOT, env: childEnv({ TESTBED_QUIET: "1" }) });
        expect(verify.stdout).toMatch(/^prod: all \d+ checks passed$/m);
        expect((await httpGet(tb.url("prod", uploadUrl))).body.equals(upload)).toBe(true);
      } finally {
        const traffic = await probe.stop();
        log.info(trafficLine("prod", traffic, "a deploy, a broken deploy and a rollback"));
        expectNoFailedRequests(traffic, "prod", "a deploy, a broken deploy and a rollback");
        expect(traffic.commits).toEqual([first, changed, first]);
      }
    } finally {
      expect(await sandbox.stop()).toBe("removed");
    }
    expect(await listLabelled(id)).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
