import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, environments } from "../core/envs.ts";
import { checklist } from "../recipe/release.ts";
import type { Runner } from "../shell/command.ts";
import { reportJunit, reportTable } from "./report.ts";
import { failedIds, verifyEnvironment } from "./verify.ts";

// The client side of verify against stand-ins: a runner that answers as the release tool's
// `checklist --json --server-only` would, and a local HTTP server for nginx.
const CSS = Buffer.from("body { color: teal }\n");
let server: Server;
let base = "";
let answer = { status: 200, release: "R2", css: CSS };
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/static/site.css") return void res.writeHead(200).end(answer.css);
    res.writeHead(answer.status, { "X-Release": answer.release }).end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const env = environments(DEFAULT_CONFIG)[2]!;
const serverChecks = checklist().filter((c) => c.side === "server");
function fakeTool(failing: string[] = []): Runner & { calls: number } {
  const runner = {
    where: "fake server",
    calls: 0,
    async run(command: string) {
      runner.calls++;
      expect(command).toBe("/usr/local/bin/myproject-release prod checklist --json --server-only");
      const results = serverChecks.map((c) => ({ ...c, status: failing.includes(c.id) ? "failed" : "passed", seen: failing.includes(c.id) ? "broken" : "fine" }));
      const report = { environment: "prod", live: "R2", commit: "c".repeat(40), health: "/", static_url: "/static/", host: "localhost", static_files: [{ path: "site.css", sha256: createHash("sha256").update(CSS).digest("hex") }], results };
      return { exitCode: failing.length ? 1 : 0, stdout: `${JSON.stringify(report)}\n`, stderr: "", output: "" };
    },
  };
  return runner;
}

describe("verify's client side", () => {
  it("passes when the server's checks pass and nginx serves the live release and its static bytes", async () => {
    answer = { status: 200, release: "R2", css: CSS };
    const r = await verifyEnvironment({ runner: fakeTool(), config: DEFAULT_CONFIG, env, baseUrl: base });
    expect(r.results.map((c) => c.id)).toEqual(checklist().map((c) => c.id));
    expect(failedIds(r)).toEqual([]);
    expect(reportTable(r)).toMatch(/prod: all 13 checks passed\n$/);
  });

  it("fails health for another release answering or a 500, and static-bytes for other bytes, saying what it saw", async () => {
    answer = { status: 200, release: "R1", css: Buffer.from("old") };
    let r = await verifyEnvironment({ runner: fakeTool(["env-file-private"]), config: DEFAULT_CONFIG, env, baseUrl: base });
    expect(failedIds(r)).toEqual(["env-file-private", "health", "static-bytes"]);
    expect(r.results.find((c) => c.id === "health")!.seen).toBe("GET /: 200 from R1 (live: R2)");
    expect(r.results.find((c) => c.id === "static-bytes")!.seen).toBe("/static/site.css: 200, not the release's bytes");
    answer = { status: 500, release: "R2", css: CSS };
    r = await verifyEnvironment({ runner: fakeTool(), config: DEFAULT_CONFIG, env, baseUrl: base });
    expect(failedIds(r)).toEqual(["health"]);
    const junit = reportJunit([r]);
    expect(junit).toContain('<testsuite name="verify prod" tests="13" failures="1" skipped="0">');
    expect(junit).toContain('<failure message="GET /: 500 from R2 (live: R2)">');
    expect(reportTable(r)).toContain("  FAIL health: the health path answers below 500 from the live release\n       seen: GET /: 500 from R2 (live: R2)\n       expected status below 500");
  });

  it("evaluates again until it passes or the retry deadline passes, and names nginx not answering", async () => {
    answer = { status: 200, release: "R2", css: CSS };
    let clock = 0;
    const tool = fakeTool(["unit-active"]);
    const r = await verifyEnvironment({ runner: tool, config: DEFAULT_CONFIG, env, baseUrl: base }, { retryTimeoutMs: 3000, now: () => clock, pause: async () => void (clock += 1000) });
    expect(tool.calls).toBe(4);
    expect(failedIds(r)).toEqual(["unit-active"]);
    const down = await verifyEnvironment({ runner: fakeTool(), config: DEFAULT_CONFIG, env, baseUrl: "http://127.0.0.1:9" });
    expect(failedIds(down)).toEqual(["nginx-port", "health", "static-bytes"]);
    expect(down.results.find((c) => c.id === "nginx-port")!.seen).toMatch(/^no answer at http:\/\/127\.0\.0\.1:9: /);
  });
});
