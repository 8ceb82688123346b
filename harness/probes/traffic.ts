import { setTimeout as delay } from "node:timers/promises";
import { Agent, request } from "undici";
import { connectHost } from "../docker/engine-address.ts";

/**
 * Bounded load through an environment's published port, to see what a deploy does to the people
 * using the site: a few clients in a loop, each request with a timeout, the whole run bounded in
 * time and count so it always stops by itself. Loopback (or the engine's own host) only.
 */
export interface TrafficOptions {
  clients?: number;
  requestTimeoutMs?: number;
  /** Hard bounds: the probe stops itself at whichever comes first. */
  maxMs?: number;
  maxRequests?: number;
  /** A pause between one client's requests: a steady rate instead of all the CPU the host has. */
  pauseMs?: number;
}

export interface TrafficReport {
  requests: number;
  failed: number;
  /** Failed answers by HTTP status ("502": 3). */
  byStatus: Record<string, number>;
  /** Requests that got no answer, by error code ("ECONNREFUSED": 1). */
  byError: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The commits that answered (X-Commit), in the order they took over, repeats collapsed. */
  commits: string[];
  /** How many answers each commit gave. */
  answersByCommit: Record<string, number>;
  /** Why it stopped: asked to, or one of its bounds. */
  stoppedBy: "stop" | "maxMs" | "maxRequests";
  durationMs: number;
}

/**
 * Two clients at about 40 requests a second in all: a restart without a held socket fails for half
 * a second or more, so a dozen requests or more, while the deploy keeps the cores it needs (on two
 * cores, faster traffic made the whole suite a third slower).
 */
export const STEADY_TRAFFIC: TrafficOptions = { clients: 2, pauseMs: 40 };

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

export class TrafficProbe {
  private stopping = false;
  private readonly latencies: number[] = [];
  private readonly report: Omit<TrafficReport, "p50Ms" | "p99Ms" | "maxMs" | "durationMs"> = {
    requests: 0, failed: 0, byStatus: {}, byError: {}, commits: [], answersByCommit: {}, stoppedBy: "stop",
  };
  /** Settles when every client has stopped: after stop(), or at a bound. */
  readonly ended: Promise<void>;
  private readonly started = Date.now();
  private readonly agent: Agent;

  private constructor(readonly url: string, private readonly opts: Required<TrafficOptions>) {
    this.agent = new Agent({ connections: opts.clients, headersTimeout: opts.requestTimeoutMs, bodyTimeout: opts.requestTimeoutMs });
    this.ended = Promise.all(Array.from({ length: opts.clients }, () => this.client())).then(() => undefined);
  }

  /** Starts the clients at once; `stop()` ends them and returns what they saw. */
  static start(url: string, opts: TrafficOptions = {}): TrafficProbe {
    const host = new URL(url).hostname;
    if (!LOOPBACK.test(host) && host !== connectHost()) {
      throw new Error(`traffic probe: ${url} is not on loopback or the engine's host (${connectHost()}); it sends load only to this machine's testbeds`);
    }
    return new TrafficProbe(url, { clients: 4, requestTimeoutMs: 10_000, maxMs: 120_000, maxRequests: 100_000, pauseMs: 0, ...opts });
  }

  private async client(): Promise<void> {
    for (;;) {
      if (this.stopping) return;
      if (Date.now() - this.started >= this.opts.maxMs) return this.bound("maxMs");
      if (this.report.requests >= this.opts.maxRequests) return this.bound("maxRequests");
      this.report.requests++;
      const t0 = performance.now();
      try {
        const res = await request(this.url, { dispatcher: this.agent, headers: { "user-agent": "django-deploy-testbed traffic probe" } });
        await res.body.dump();
        this.latencies.push(performance.now() - t0);
        const commit = String(res.headers["x-commit"] ?? "");
        // Failed: a server error, or an answer no release gave (nginx's own, with no X-Commit). A 404
        // or a 403 from the release is the project serving, as the health rule says (below 500).
        if (res.statusCode >= 500 || !commit) {
          this.report.failed++;
          const key = String(res.statusCode);
          this.report.byStatus[key] = (this.report.byStatus[key] ?? 0) + 1;
        } else {
          this.report.answersByCommit[commit] = (this.report.answersByCommit[commit] ?? 0) + 1;
          if (this.report.commits.at(-1) !== commit) this.report.commits.push(commit);
        }
      } catch (err) {
        this.latencies.push(performance.now() - t0);
        this.report.failed++;
        const key = (err as { code?: string }).code ?? (err as Error).name;
        this.report.byError[key] = (this.report.byError[key] ?? 0) + 1;
      }
      // Pacing, not waiting for a condition: a rate limit keeps the probe from starving the deploy.
      if (this.opts.pauseMs) await delay(this.opts.pauseMs);
    }
  }

  /** Requests sent so far. */
  get requests(): number {
    return this.report.requests;
  }

  /** Requests answered successfully so far. */
  get answered(): number {
    return Object.values(this.report.answersByCommit).reduce((s, n) => s + n, 0);
  }

  private bound(reason: TrafficReport["stoppedBy"]): void {
    this.report.stoppedBy = reason;
    this.stopping = true;
  }

  /** Stops the clients (each finishes its request in flight) and reports. */
  async stop(): Promise<TrafficReport> {
    this.stopping = true;
    await this.ended;
    await this.agent.close();
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
    return { ...this.report, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: Math.round(sorted.at(-1) ?? 0), durationMs: Date.now() - this.started };
  }
}

/** One line for a log: `prod: 3,412 requests during the deploy, 0 failed, p99 38 ms, a1b2c3d4 → e4f5a6b7`. */
export function trafficLine(env: string, r: TrafficReport, during = "the deploy"): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const reasons = [...Object.entries(r.byStatus).map(([s, c]) => `${n(c)} × ${s}`), ...Object.entries(r.byError).map(([e, c]) => `${n(c)} × ${e}`)];
  const failed = r.failed ? `${n(r.failed)} failed (${reasons.join(", ")})` : "0 failed";
  const commits = r.commits.map((c) => c.slice(0, 8)).join(" → ") || "no release answered";
  return `${env}: ${n(r.requests)} requests during ${during}, ${failed}, p99 ${r.p99Ms} ms, ${commits}`;
}

/** Runs `fn` with the probe on `url`, logs the probe's line for `label`, and returns both. */
export async function underTraffic<T>(url: string, label: string, log: { info(m: string): void }, fn: () => Promise<T>, opts?: TrafficOptions & { during?: string }): Promise<{ value: T; traffic: TrafficReport }> {
  const probe = TrafficProbe.start(url, opts);
  const settled = await fn().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
  const traffic = await probe.stop();
  log.info(trafficLine(label, traffic, opts?.during));
  if (!settled.ok) throw settled.error;
  return { value: settled.value, traffic };
}
