import { describe, expect, it } from "vitest";
import { fixtureNamed } from "../../harness/core/fixtures.ts";
import { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { expectGunicornSocket, expectMigrations, expectPageFromOwnDatabase, expectStaticBytes, releaseCommandsRan } from "./checks.ts";
import { jobLogs, sampleProject, testbed, withDiagnostics } from "./support.ts";

// Names that collide with environment names are where string-replaced paths went wrong
// (WorkingDirectory=/home/%i/dev/...): every path here comes from the table's path functions.
const CONFIG = { deployUser: "dev", project: "shop", basePort: 7100 };

describe("a deployment configured otherwise: deploy user `dev`, project `shop`, ports from 7100", () => {
  it("provisions, deploys through the pipeline and serves prod from its own paths, unit, socket and database", async () => {
    await using project = await fixtureNamed(CONFIG.project, sampleProject());
    await using tb = await testbed().withDeployment(CONFIG).start();
    try {
      // No config is passed past the testbed: the deployment generates its pipeline from the
      // testbed's own (its deploy user logs in, its tool runs), or this deploy fails.
      await using deployment = await PipelineDeployment.provision(tb, { projectDir: project.dir, envs: ["prod"] });
      const { result } = await deployment.deploy({ env: "prod" });
      const logs = jobLogs(result);
      expect(result.status, logs).toBe("success");
      expect(logs).toContain("RELEASE=$(ssh deploy-target shop-release prod new \"$CI_COMMIT_SHA\")");
      expect(releaseCommandsRan(logs, "prod", "shop").map(([step]) => step)).toEqual(["venv", "prepare", "switch", "verify"]);
      const prod = tb.env("prod");
      expect(prod).toMatchObject({ port: 7102, dir: "/home/dev/prod/shop", socket: "/home/dev/prod/shop.sock", database: "shop_prod", unit: "gunicorn@prod" });
      expect((await tb.app.exec.run("systemctl show -p WorkingDirectory gunicorn@prod")).stdout.trim()).toBe("WorkingDirectory=/home/dev/prod/shop");
      await expectGunicornSocket(tb, "prod");
      await expectPageFromOwnDatabase(tb, "prod", "Hello from shop");
      await expectStaticBytes(tb, "prod", project.dir);
      await expectMigrations(tb, "prod", project.dir);
    } catch (err) {
      tb.markFailed();
      throw await withDiagnostics(tb, err);
    }
  });
});
