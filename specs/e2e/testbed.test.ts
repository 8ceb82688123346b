import { NodeSSH } from "node-ssh";
import { describe, expect, it } from "vitest";
import { docker } from "../../harness/docker/client.ts";
import { engineTcpHost } from "../../harness/docker/engine-address.ts";
import { listLabelled } from "../../harness/docker/labels.ts";
import { SshRunner } from "../../harness/shell/ssh.ts";
import { TestbedStartError } from "../../harness/testbed/testbed.ts";
import { testbed } from "./support.ts";
import { settings } from "../../harness/plumbing/settings.ts";

describe("testbed foundation", () => {
  it("boots two systemd servers to running, reachable by key over ssh, each other by name, and removes all of it", async () => {
    const tb = await testbed().start();
    let id = tb.id;
    try {
      for (const server of [tb.app, tb.db]) {
        expect((await server.exec.run("systemctl is-system-running", { allowFailure: true })).stdout.trim(), server.label).toBe("running");
        expect((await server.exec.run("systemctl --failed --no-legend --plain", { allowFailure: true })).stdout.trim(), server.label).toBe("");
        expect((await server.exec.run("cat /proc/1/comm")).stdout.trim(), server.label).toBe("systemd");
        // Published on loopback only (or, for an engine reached over TCP, on its address), never on 0.0.0.0.
        const bindings = (await docker().getContainer(server.containerId).inspect()).NetworkSettings.Ports;
        const hostIps = Object.values(bindings).flatMap((b) => (b ?? []).map((x) => x.HostIp));
        expect(hostIps.length).toBeGreaterThan(0);
        // In docker-in-docker the engine's "host" is a private container, so all its interfaces are fine.
        const expected = settings().hostOverride ? "0.0.0.0" : (engineTcpHost() ?? "127.0.0.1");
        expect(new Set(hostIps)).toEqual(new Set([expected]));
      }

      // Key-based login from the host, with the server's own host key checked.
      const ssh = new NodeSSH();
      await ssh.connect(tb.app.sshConfig());
      try {
        const r = await ssh.execCommand("echo $(whoami)@$(hostname)");
        expect(r.stdout).toBe("root@myappserver");
      } finally {
        ssh.dispose();
      }
      // The recipe's runner on one connection: five times sshd's MaxSessions commands at once all
      // run, each with its own output. Beyond MaxSessions, and in the churn of channels closing
      // and opening, sshd refuses a channel ("Channel open failure").
      const runner = await SshRunner.connect("app", tb.app.sshConfig());
      try {
        const max = Number((await runner.run("sshd -T | sed -n 's/^maxsessions //p'")).stdout.trim());
        expect(max).toBeGreaterThan(0);
        const outputs = await Promise.all(Array.from({ length: 5 * max }, (_, i) => runner.run(`echo ${i}`)));
        expect(outputs.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 5 * max }, (_, i) => String(i)));
      } finally {
        runner.dispose();
      }
      const wrongHostKey = { ...tb.app.sshConfig(), hostVerifier: () => false };
      // Refused for its host key, in ssh2's own words: not any other error on the way.
      await expect(new NodeSSH().connect(wrongHostKey)).rejects.toThrow(/Host denied \(verification failed\)/);

      // The database server answers by its alias on the testbed's own network.
      (await tb.db.exec.run(`pg_conftool set listen_addresses '*' && systemctl restart postgresql && ` +
          `for i in $(seq 100); do pg_isready -q -h 127.0.0.1 && break; sleep 0.1; done`)).stdout;
      const reach = await tb.app.exec.run("getent hosts mydatabaseserver && pg_isready -h mydatabaseserver -p 5432", { allowFailure: true });
      expect(reach.stdout).toMatch(/mydatabaseserver/);
      expect(reach.stdout).toMatch(/mydatabaseserver:5432 - accepting connections/);
      expect(reach.exitCode).toBe(0);
    } finally {
      await tb.stop();
    }
    expect(await listLabelled(id)).toEqual({ containers: [], networks: [], volumes: [] });
  });

  it("fails a start with a missing image clearly and leaves nothing behind", async () => {
    const missing = "django-deploy-testbed/appserver:does-not-exist";
    const error = await testbed().withImage("appserver", missing).start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TestbedStartError);
    const err = error as TestbedStartError;
    expect(err.message).toMatch(/start failed/);
    expect(err.message).toContain("does-not-exist");
    expect(err.message).toMatch(/Everything it had created was removed/);
    expect(err.testbedId).toMatch(/^ddt-test-/);
    expect(await listLabelled(err.testbedId!)).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
