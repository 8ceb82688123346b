import { NodeSSH } from "node-ssh";
import { describe, expect, it } from "vitest";
import { listLabelled } from "../../harness/docker/labels.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { Sandbox } from "../../harness/sandbox.ts";
import { log } from "./support.ts";

describe("sandbox", () => {
  it("deploys through the pipeline, prints working URLs and logins, and leaves nothing when stopped", async () => {
    const sandbox = new Sandbox({ envs: ["dev", "prod"], log });
    let id = "";
    try {
      const rows = await sandbox.start();
      const tb = sandbox.testbed!;
      id = tb.id;
      expect(id).toMatch(/^ddt-sandbox-/);
      expect(rows.map((r) => r.env)).toEqual(["dev", "prod"]);
      for (const row of rows) {
        expect(row.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
        const page = await httpGet(row.url);
        expect(page.status).toBe(200);
        expect(page.text).toContain(`Environment: ${row.env}</p>`);
      }
      // The printed ssh command's key, port and user log in as the deploy user.
      const [, key, , port, userAt] = rows[0]!.ssh.match(/^ssh -i (\S+) -o UserKnownHostsFile=(\S+) -p (\d+) (\S+)$/)!.slice(0) as string[];
      const ssh = new NodeSSH();
      await ssh.connect({ ...tb.app.ssh(tb.config.deployUser), privateKeyPath: key, privateKey: undefined, port: Number(port) });
      try {
        expect((await ssh.execCommand("whoami")).stdout).toBe(userAt!.split("@")[0]);
        // The printed database command, run without a terminal.
        const query = rows[0]!.database.replace(/^.* -t '/, "").replace(/'$/, "");
        const r = await ssh.execCommand(`${query} -tAc 'SELECT current_database()'`);
        expect(r.stdout.trim(), r.stderr).toBe(tb.env("dev").database);
      } finally {
        ssh.dispose();
      }
    } finally {
      expect(await sandbox.stop()).toBe("removed");
    }
    expect(await listLabelled(id)).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
