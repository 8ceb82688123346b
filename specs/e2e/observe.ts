import { describe, expect } from "vitest";
import type { EnvName } from "../../harness/domain/envs.ts";
import { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { sh } from "../../harness/shell/quote.ts";
import { expectChecklistPasses, expectMigrations, expectStaticBytes, servingRelease } from "./checks.ts";
import { expectNoFailedRequests, jobLogs, onTestbed, sharedTestbed, SPEC_TRAFFIC, type Shared } from "./support.ts";

/**
 * What every Django project must show once deployed, asked of the server and never of the
 * project's own code, on each fixture shape (a team runs its own project through `npm run gate`).
 * Nothing here knows a project's models, pages or files beyond what the repository holds: its
 * migrations, its static files, its health path.
 */

/**
 * The observing specs for one project's repository: a testbed from the provisioned snapshot, set up
 * for the project and deployed to prod through the generated pipeline; then what is on the server.
 */
export function observeProject(label: string, projectDir: string): void {
  const env: EnvName = "prod";
  const shared: () => Shared<PipelineDeployment> = sharedTestbed(async (tb) => {
    const deployment = await PipelineDeployment.provision(tb, { projectDir, envs: [env] });
    const { result } = await deployment.deploy({ env });
    if (result.status !== "success") throw new Error(`the first deploy of ${projectDir} failed:\n${jobLogs(result)}`);
    return deployment;
  }, "provisioned");

  describe(`${label}: deployed to prod through the pipeline`, () => {
    // The checklist holds what three tests here asserted before it did: gunicorn@prod active with its
    // workers on the socket systemd holds (owned by the deploy user and www-data), nginx on prod's
    // port, the health path answering below 500 from the live release, its Django on prod's own database.
    onTestbed(shared, "passes every check of npm run verify's checklist, and the live link is the release that answers", async ({ tb, data }) => {
      await expectChecklistPasses(tb, env);
      const { release } = await servingRelease(tb, env, data.project.health);
      const live = (await tb.app.exec.run(sh`readlink ${tb.env(env).dir}`)).stdout.trim();
      expect(live).toBe(`releases/${release}`);
    });

    onTestbed(shared, "serves a static file the project ships, byte for byte, from its STATIC_ROOT at its STATIC_URL", ({ tb, data }) =>
      expectStaticBytes(tb, env, data.repo.dir, data.project),
    );

    onTestbed(shared, "has every migration of the repository applied in prod's own Postgres database", ({ tb, data }) =>
      expectMigrations(tb, env, data.repo.dir, data.project),
    );

    onTestbed(shared, "a redeploy, then a rollback, under traffic: 0 failed requests, each commit taking over in turn", async ({ tb, data }) => {
      const before = await servingRelease(tb, env, data.project.health);
      const branch = data.branchFor(env);
      const commit = await data.repo.commit(branch, "A change to redeploy", { write: { "DEPLOYED_BY_TESTBED.txt": `${Date.now()}\n` } });
      const redeploy = await data.deploy({ env }, { traffic: SPEC_TRAFFIC });
      expect(redeploy.result.status, jobLogs(redeploy.result)).toBe("success");
      expectNoFailedRequests(redeploy.traffic!, env, "the redeploy");
      expect(redeploy.traffic!.commits).toEqual([before.commit, commit]);
      const rollback = await data.rollback(env, { traffic: SPEC_TRAFFIC });
      expect(rollback.result.status, jobLogs(rollback.result)).toBe("success");
      expectNoFailedRequests(rollback.traffic!, env, "the rollback");
      expect(rollback.traffic!.commits).toEqual([commit, before.commit]);
      expect((await servingRelease(tb, env, data.project.health)).release).toBe(before.release);
    });
  });
}
