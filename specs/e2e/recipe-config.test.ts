import { request } from "undici";
import { describe, expect, it } from "vitest";
import { sh } from "../../harness/shell/quote.ts";
import { releaseToolName } from "../../harness/release/tool.ts";
import { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { expectChecklistPasses, expectMigrations, expectStaticBytes, releaseCommandsRan } from "./checks.ts";
import { jobLogs, sampleProject, testbed, withDiagnostics } from "./support.ts";

// Names that collide with environment names are where string-replaced paths went wrong
// (WorkingDirectory=/home/%i/dev/...): every path here comes from the table's path functions. The
// deployment's name (`shop`) is not the project's package (the sample's, untouched): paths, unit
// and tool follow the deployment, the settings module and WSGI application follow the project.
// And the seed's one shared deploy user (isolation "shared"), the option the default replaces.
// Behind a TLS-terminating proxy (https, its X-Forwarded-Proto trusted from the private ranges the
// testbed's networks use): DJANGO_HTTPS=1 must not redirect forever.
const CONFIG = { deployUser: "dev", project: "shop", basePort: 7100, isolation: "shared" as const, https: true, trustedProxies: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] };

describe("a deployment configured otherwise: one shared deploy user `dev`, project `shop`, ports from 7100, HTTPS at a trusted proxy", () => {
  it("provisions, deploys through the pipeline and serves prod from its own paths, unit, socket and database", async () => {
    await using tb = await testbed().withDeployment(CONFIG).start();
    try {
      // No config is passed past the testbed: the deployment generates its pipeline from the
      // testbed's own (its deploy user logs in, its tool runs), or this deploy fails.
      await using deployment = await PipelineDeployment.provision(tb, { projectDir: sampleProject(), envs: ["prod"] });
      const { result } = await deployment.deploy({ env: "prod" });
      const logs = jobLogs(result);
      expect(result.status, logs).toBe("success");
      expect(logs).toContain("RELEASE=$(ssh deploy-target shop-release prod new \"$CI_COMMIT_SHA\")");
      expect(releaseCommandsRan(logs, "prod", releaseToolName(tb.config)).map(([step]) => step)).toEqual(["venv", "prepare", "switch", "verify"]);
      const prod = tb.env("prod");
      expect(prod).toMatchObject({ user: "dev", port: 7102, dir: "/home/dev/prod/shop", socket: "/home/dev/prod/shop.sock", database: "shop_prod", unit: "gunicorn@prod" });
      expect((await tb.app.exec.run("systemctl show -p WorkingDirectory gunicorn@prod")).stdout.trim()).toBe("WorkingDirectory=/home/dev/prod/shop");
      await expectChecklistPasses(tb, "prod");
      // DJANGO_HTTPS=1: a request as the TLS proxy forwards it is served; one over plain HTTP is sent to https.
      const ask = async (headers: Record<string, string>) => {
        const r = await request(tb.url("prod", deployment.project.health), { headers });
        await r.body.dump();
        return { status: r.statusCode, location: String(r.headers.location ?? "") };
      };
      expect(await ask({ "x-forwarded-proto": "https" }), "through the TLS proxy").toEqual({ status: 200, location: "" });
      expect(await ask({}), "plain HTTP, past the proxy").toMatchObject({ status: 301, location: expect.stringMatching(/^https:\/\//) });
      expect((await tb.app.exec.run(sh`grep -c '^DJANGO_HTTPS="1"$' ${tb.env("prod").envFile}`)).stdout.trim()).toBe("1");
      await expectStaticBytes(tb, "prod", sampleProject(), deployment.project);
      await expectMigrations(tb, "prod", sampleProject(), deployment.project);
    } catch (err) {
      tb.markFailed();
      throw await withDiagnostics(tb, err);
    }
  });
});
