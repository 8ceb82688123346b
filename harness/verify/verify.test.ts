import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, environments } from "../domain/envs.ts";
import { checklist } from "../release/tool.ts";
import type { Runner } from "../shell/command.ts";
import { reportJunit, reportTable } from "./report.ts";
import { failedIds, verifyEnvironment } from "./verify.ts";

// The client side of verify against stand-ins: a runner that answers as the release tool's
// `checklist --json` would (every check the server sees, and the health path's answer as the server
// got it), and a local HTTP server for nginx as a visitor reaches it.
let server: Server;
let base = "";
let answer = { status: 200, release: "R2" };
beforeAll(async () => {
  server = createServer((req, res) => void res.writeHead(answer.status, { "X-Release": answer.release }).end("ok"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const env = environments(DEFAULT_CONFIG)[2]!;
const seenByServer = checklist().filter((c) => c.side !== "outside");
const total = checklist().length;
function fakeTool(failing: string[] = [], inside: object = { status: 200, release: "R2" }): Runner & { calls: number } {
  const runner = {
    where: "fake server",
    calls: 0,
    async run(command: string) {
      runner.calls++;
      expect(command).toBe("/usr/local/bin/myproject-release prod checklist --json");
      const results = seenByServer.map((c) => ({ ...c, status: failing.includes(c.id) ? "failed" : "passed", seen: failing.includes(c.id) ? "broken" : "fine" }));
      const report = { environment: "prod", live: "R2", commit: "c".repeat(40), health: "/", static_url: "/static/", host: "localhost", static_files: [], inside, results };
      return { exitCode: failing.length ? 1 : 0, stdout: `${JSON.stringify(report)}\n`, stderr: "", output: "" };
    },
  };
  return runner;
}

describe("verify's client side", () => {
  it("passes when the server's checks pass and a visitor gets the answer the server got", async () => {
    answer = { status: 200, release: "R2" };
    const r = await verifyEnvironment({ runner: fakeTool(), config: DEFAULT_CONFIG, env, baseUrl: base });
    expect(r.results.map((c) => c.id)).toEqual(checklist().map((c) => c.id));
    expect(failedIds(r)).toEqual([]);
    expect(r.results.find((c) => c.id === "outside-same")!.seen).toBe(`GET ${base}/: 200 from R2; from the server itself: 200 from R2`);
    expect(reportTable(r)).toMatch(new RegExp(`prod: all ${total} checks passed\\n$`));
  });

  it("passes the server's own failures through, and fails outside-same for another release or status outside, saying both", async () => {
    answer = { status: 200, release: "R1" };
    let r = await verifyEnvironment({ runner: fakeTool(["env-file-private", "health"]), config: DEFAULT_CONFIG, env, baseUrl: base });
    expect(failedIds(r)).toEqual(["env-file-private", "health", "outside-same"]);
    expect(r.results.find((c) => c.id === "health")!.seen).toBe("broken");
    expect(r.results.find((c) => c.id === "outside-same")!.seen).toBe(`GET ${base}/: 200 from R1; from the server itself: 200 from R2`);
    answer = { status: 502, release: "" };
    r = await verifyEnvironment({ runner: fakeTool(), config: DEFAULT_CONFIG, env, baseUrl: base });
    expect(failedIds(r)).toEqual(["outside-same"]);
    const junit = reportJunit([r]);
    expect(junit).toContain(`<testsuite name="verify prod" tests="${total}" failures="1" skipped="0">`);
    expect(junit).toContain(`<failure message="GET ${base}/: 502 from no X-Release header; from the server itself: 200 from R2">`);
    expect(reportTable(r)).toContain("  FAIL outside-same: the health path answers a visitor as it answers the server itself\n       seen: GET ");
  });

  it("fails outside-same when nobody answers outside, or the server itself got no answer", async () => {
    answer = { status: 200, release: "R2" };
    const down = await verifyEnvironment({ runner: fakeTool(), config: DEFAULT_CONFIG, env, baseUrl: "http://127.0.0.1:9" });
    expect(failedIds(down)).toEqual(["outside-same"]);
    expect(down.results.find((c) => c.id === "outside-same")!.seen).toMatch(/^GET http:\/\/127\.0\.0\.1:9\/: no answer \(.+\); from the server itself: 200 from R2$/);
    const silent = await verifyEnvironment({ runner: fakeTool(["nginx-port"], { error: "no answer on 127.0.0.1:7032: refused" }), config: DEFAULT_CONFIG, env, baseUrl: base });
    expect(failedIds(silent)).toEqual(["nginx-port", "outside-same"]);
  });

  it("evaluates again until it passes or the retry deadline passes", async () => {
    answer = { status: 200, release: "R2" };
    let clock = 0;
    const tool = fakeTool(["unit-active"]);
    const r = await verifyEnvironment({ runner: tool, config: DEFAULT_CONFIG, env, baseUrl: base }, { retryTimeoutMs: 3000, now: () => clock, pause: async () => void (clock += 1000) });
    expect(tool.calls).toBe(4);
    expect(failedIds(r)).toEqual(["unit-active"]);
  });
});
