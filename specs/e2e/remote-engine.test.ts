import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { junitCases } from "../../harness/faults/verdict.ts";
import { runVitest } from "../../harness/suite/vitest-run.ts";
import { settings } from "../../harness/plumbing/settings.ts";

/** The tests of the nested run: the global setup's, and every check of prod after the recipe. */
const PROD_CHECKS = "global setup|environment prod after the recipe";

const dir = await mkdtemp(join(tmpdir(), "ddt-remote-engine-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** This machine's engine, reached over TCP on another loopback address, as a remote engine would be. */
async function engineOverTcp(): Promise<{ url: string; hostIps: () => string[]; close: () => Promise<void> }> {
  // The address each published port asked for, as the harness's requests pass: read as they go by,
  // not from a tail of what was sent, which uploads (a wheelhouse into preflight's container) flood.
  const hostIps: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const engine = createConnection({ path: "/var/run/docker.sock" });
    sockets.add(client).add(engine);
    let tail = "";
    client.on("data", (b: Buffer) => {
      const text = tail + b.toString("latin1");
      for (const m of text.matchAll(/"HostIp":"([^"]*)"/g)) hostIps.push(m[1]!);
      // A match split across two chunks is whole in the next text; one already counted may count twice.
      tail = text.slice(-64);
    });
    client.pipe(engine).pipe(client);
    for (const s of [client, engine]) s.on("error", () => undefined).on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.2", resolve));
  return {
    url: `tcp://127.0.0.2:${(server.address() as AddressInfo).port}`,
    hostIps: () => hostIps,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// In the GitLab gate the engine is already remote (dind): that job is this test.
describe.skipIf(settings().hostOverride || settings().dockerHost)("an engine reached by DOCKER_HOST=tcp://…", () => {
  it("boots, provisions and deploys with ports published on the engine's address and every probe sent there", async () => {
    const engine = await engineOverTcp();
    try {
      const junitPath = join(dir, "junit.xml");
      // Servers from the deployed snapshot, the recipe over ssh, then prod's checks: the page through
      // nginx's published port, Postgres through the database server's, the secrets on the server.
      // One worker: a second would only import the harness again.
      const code = await runVitest({ files: ["specs/e2e/setup.test.ts", "specs/e2e/recipe-environments.test.ts"], testFilter: PROD_CHECKS, env: { DOCKER_HOST: engine.url }, junitPath, maxWorkers: 1 });
      const output = await readFile(join(dir, "junit.log"), "utf8");
      expect(code, output).toBe(0);
      const cases = junitCases(await readFile(junitPath, "utf8"));
      expect(cases.filter((c) => c.failure).map((c) => c.name), output).toEqual([]);
      const passed = cases.filter((c) => c.skipped === undefined).map((c) => c.name);
      expect(passed.filter((n) => n.startsWith("environment prod after the recipe")).length, output).toBeGreaterThanOrEqual(6);
      expect(passed, output).toContain("global setup > built the images and the provisioned and deployed snapshots, for the platform asked for");
      // The servers' ports were published on 127.0.0.2 only (so 127.0.0.1 would not have reached them).
      const bindings = engine.hostIps();
      expect(bindings.length).toBeGreaterThan(0);
      expect(new Set(bindings)).toEqual(new Set(["127.0.0.2"]));
    } finally {
      await engine.close();
    }
  });
});
