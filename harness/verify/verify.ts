import { createHash } from "node:crypto";
import { request } from "undici";
import type { DeploymentConfig, Environment } from "../core/envs.ts";
import { checklist, releaseToolPath, type CheckDefinition } from "../recipe/release.ts";
import type { Runner } from "../shell/command.ts";
import { sh } from "../shell/quote.ts";

/**
 * `npm run verify`: the checklist (harness/recipe/checklist.json) against one environment of a
 * server, read-only. The server's side comes from the release tool's `checklist --server-only`
 * over ssh (the CI key's forced command allows it; an operator's shell key works alike); the HTTP
 * side is asked here, through nginx at the environment's public URL, as a visitor would. The specs
 * assert a deployed environment with the same function.
 */

export type CheckStatus = "passed" | "failed" | "skipped";

export interface CheckResult {
  id: string;
  side: CheckDefinition["side"];
  sentence: string;
  expects: string;
  lookAt: string;
  status: CheckStatus;
  /** What was seen: the evidence on a pass, the reason on a failure. */
  seen: string;
}

export interface VerifyReport {
  environment: string;
  live: string | null;
  commit: string | null;
  results: CheckResult[];
}

export interface VerifyTarget {
  /** Commands on the server: ssh as the environment's user, or any runner with `as`. */
  runner: Runner;
  /** Run the tool as this user (a root runner, in the specs); the runner's own user when absent. */
  as?: string;
  config: DeploymentConfig;
  env: Environment;
  /** nginx for this environment, as a visitor reaches it: http://host:port. */
  baseUrl: string;
}

/** What the tool reports of the server side (release_checklist.py's JSON). */
interface ServerReport extends VerifyReport {
  health: string;
  static_url: string;
  host: string;
  static_files: Array<{ path: string; sha256: string }>;
}

async function serverSide(t: VerifyTarget): Promise<ServerReport> {
  const command = sh`${releaseToolPath(t.config)} ${t.env.name} checklist --json --server-only`;
  const r = await t.runner.run(command, { as: t.as, allowFailure: true });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as ServerReport;
  } catch {
    throw new Error(`${t.runner.where}: \`${command}\` exited ${r.exitCode} without a report:\n${r.output.slice(-1500)}\nIs the release tool from this harness's recipe installed there, and is this the environment's user?`);
  }
}

async function get(url: string, host: string): Promise<{ status: number; release: string; body: Buffer }> {
  const r = await request(url, { headers: { host }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, release: String(r.headers["x-release"] ?? ""), body };
}

/** The HTTP checks, through nginx from here, against what the server said is live and collected. */
async function httpSide(t: VerifyTarget, server: ServerReport): Promise<Record<string, [boolean, string]>> {
  const base = t.baseUrl.replace(/\/$/, "");
  const out: Record<string, [boolean, string]> = {};
  try {
    out["nginx-port"] = [true, `answered ${(await get(`${base}/`, server.host)).status}`];
  } catch (err) {
    const why = `no answer at ${base}: ${(err as Error).message}`;
    return { "nginx-port": [false, why], health: [false, why], "static-bytes": [false, why] };
  }
  const h = await get(`${base}${server.health}`, server.host);
  out.health = [h.status < 500 && h.release === server.live, `GET ${server.health}: ${h.status} from ${h.release || "no X-Release header"} (live: ${server.live})`];
  const seen: string[] = [];
  out["static-bytes"] = [server.static_files.length > 0, "the live release has no collected static files"];
  for (const f of server.static_files) {
    const r = await get(`${base}${server.static_url}${f.path}`, server.host);
    const same = r.status === 200 && createHash("sha256").update(r.body).digest("hex") === f.sha256;
    seen.push(`${server.static_url}${f.path}: ${r.status}${r.status === 200 && !same ? ", not the release's bytes" : ""}`);
    out["static-bytes"] = [same, seen.join("; ")];
    if (!same) break;
  }
  return out;
}

/** One evaluation of every check: the server's results, then the HTTP ones in the checklist's order. */
export async function verifyOnce(t: VerifyTarget): Promise<VerifyReport> {
  const server = await serverSide(t);
  const http = await httpSide(t, server);
  const fill = (text: string) => text.replace(/<env>/g, t.env.name).replace(/<user>/g, t.env.user).replace(/<tool>/g, `${t.config.project}-release`);
  const results = checklist().map((c): CheckResult => {
    if (c.side === "server") {
      const r = server.results.find((x) => x.id === c.id);
      return r ?? { ...c, sentence: fill(c.sentence), expects: fill(c.expects), lookAt: fill(c.lookAt), status: "failed", seen: "the server's tool did not report it: install the tool and its config from this recipe" };
    }
    const [ok, seen] = http[c.id] ?? [false, "not evaluated"];
    return { ...c, sentence: fill(c.sentence), expects: fill(c.expects), lookAt: fill(c.lookAt), status: ok ? "passed" : "failed", seen };
  });
  return { environment: server.environment, live: server.live, commit: server.commit, results };
}

/** Evaluates again until nothing fails or `retryTimeoutMs` has passed (goss's --retry-timeout): right after a restart, say. */
export async function verifyEnvironment(t: VerifyTarget, opts: { retryTimeoutMs?: number; now?: () => number; pause?: () => Promise<void> } = {}): Promise<VerifyReport> {
  const now = opts.now ?? Date.now;
  const end = now() + (opts.retryTimeoutMs ?? 0);
  for (;;) {
    const report = await verifyOnce(t);
    if (passed(report) || now() >= end) return report;
    await (opts.pause ?? (() => new Promise((r) => setTimeout(r, 1000))))();
  }
}

export const passed = (r: VerifyReport): boolean => r.results.every((c) => c.status !== "failed");
export const failedIds = (r: VerifyReport): string[] => r.results.filter((c) => c.status === "failed").map((c) => c.id);
