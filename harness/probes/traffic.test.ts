import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrafficProbe, trafficLine } from "./traffic.ts";

// A local server that plays a deploy: commit "aaaa" answers, then a few 502s, then "bbbb".
let server: Server;
let url = "";
let phase: "old" | "switching" | "new" = "old";
beforeAll(async () => {
  server = createServer((_, res) => {
    if (phase === "switching") return void res.writeHead(502).end("bad gateway");
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

  it("refuses any address but loopback", () => {
    expect(() => TrafficProbe.start("http://10.1.2.3/")).toThrow(/not on loopback/);
  });
});
