import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrafficProbe, trafficLine } from "./traffic.ts";

// A local server that plays a deploy: commit "aaaa" answers, then a few 502s, then "bbbb".
let server: Server;
let url = "";
let phase: "old" | "switching" | "new" | "not-found" | "nginx-404" = "old";
beforeAll(async () => {
  server = createServer((_, res) => {
    if (phase === "switching") return void res.writeHead(502).end("bad gateway");
    // A project's own 404 (its release answered) and nginx's (no release did).
    if (phase === "not-found") return void res.writeHead(404, { "x-commit": "cccc" }).end("no such page");
    if (phase === "nginx-404") return void res.writeHead(404).end("not found");
    res.writeHead(200, { "x-commit": phase === "old" ? "aaaa" : "bbbb" }).end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const until = async (probe: () => boolean) => {
  while (!probe()) await new Promise((r) => setImmediate(r));
};

describe("the traffic probe", () => {
  it("counts answers by commit, failures by status, and reports them in one line", async () => {
    phase = "old";
    const p = TrafficProbe.start(url, { clients: 3 });
    const seen = () => p.requests;
    await until(() => seen() > 50);
    phase = "switching";
    await until(() => seen() > 60);
    phase = "new";
    await until(() => seen() > 120);
    const r = await p.stop();
    expect(r.commits).toEqual(["aaaa", "bbbb"]);
    expect(r.failed).toBeGreaterThan(0);
    expect(r.byStatus["502"]).toBe(r.failed);
    expect(r.answersByCommit.aaaa! + r.answersByCommit.bbbb! + r.failed).toBe(r.requests);
    expect(r.stoppedBy).toBe("stop");
    expect(trafficLine("prod", r)).toMatch(new RegExp(`^prod: ${r.requests.toLocaleString("en-US")} requests during the deploy, ${r.failed} failed \\(${r.failed} × 502\\), p99 \\d+ ms, aaaa → bbbb$`));
  });

  it("stops by itself at its bounds, and counts refused connections as errors", async () => {
    const counted = TrafficProbe.start(url, { maxRequests: 25, clients: 2 });
    await counted.ended;
    const byCount = await counted.stop();
    expect(byCount.stoppedBy).toBe("maxRequests");
    expect(byCount.requests).toBe(25);
    const refused = TrafficProbe.start("http://127.0.0.1:9/", { maxMs: 200, clients: 1 });
    await refused.ended;
    const r = await refused.stop();
    expect(r.stoppedBy).toBe("maxMs");
    expect(r.byError.ECONNREFUSED).toBe(r.requests);
  });

  it("counts a release's own 4xx as served (below 500), and an answer without X-Commit as failed", async () => {
    phase = "not-found";
    const served = TrafficProbe.start(url, { maxRequests: 10, clients: 1 });
    await served.ended;
    expect(await served.stop()).toMatchObject({ requests: 10, failed: 0, commits: ["cccc"] });
    phase = "nginx-404";
    const unserved = TrafficProbe.start(url, { maxRequests: 10, clients: 1 });
    await unserved.ended;
    expect(await unserved.stop()).toMatchObject({ requests: 10, failed: 10, byStatus: { "404": 10 } });
  });

  it("refuses any address but loopback", () => {
    expect(() => TrafficProbe.start("http://10.1.2.3/")).toThrow(/not on loopback/);
  });
});
