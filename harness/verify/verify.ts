import { request } from "undici";
import type { DeploymentConfig, Environment } from "../domain/envs.ts";
import { checklist, releaseToolPath, type CheckDefinition } from "../release/tool.ts";
import type { Runner } from "../shell/command.ts";
import { sh } from "../shell/quote.ts";

/**
 * `npm run verify`: the checklist (release-tool/checklist.json) against one environment of a server,
 * read-only. The release tool evaluates every check the server can see, HTTP through nginx on
 * 127.0.0.1 included (`checklist --json`, over ssh: the CI key's forced command allows it; an
 * operator's shell key works alike). Here only the `outside` checks are evaluated: the same URL as
 * a visitor asks it, compared with the answer the server got. The specs assert a deployed
 * environment with the same function.
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

/** What the tool reports (release_checklist.py's JSON): its results, and what it saw to compare with. */
interface ServerReport extends VerifyReport {
  health: string;
  host: string;
  /** The health path's answer through nginx, as the server itself got it. */
  inside: { status: number; release: string } | { error: string };
}

async function serverSide(t: VerifyTarget): Promise<ServerReport> {
  const command = sh`${releaseToolPath(t.config)} ${t.env.name} checklist --json`;
  const r = await t.runner.run(command, { as: t.as, allowFailure: true });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as ServerReport;
  } catch {
    throw new Error(`${t.runner.where}: \`${command}\` exited ${r.exitCode} without a report:\n${r.output.slice(-1500)}\nIs the release tool from this harness's recipe installed there, and is this the environment's user?`);
  }
}

/**
 * The `outside` checks, one function each, under the checklist's id: each gets the server's report
 * and the URL a visitor uses, and returns whether it passed and what it saw. A check declared
 * `outside` in checklist.json without a function here fails, saying so.
 */
export const OUTSIDE_CHECKS: Record<string, (server: ServerReport, baseUrl: string) => Promise<[boolean, string]>> = {
  async "outside-same"(server, baseUrl) {
    const url = `${baseUrl.replace(/\/$/, "")}${server.health}`;
    let outside: string;
    try {
      const r = await request(url, { headers: { host: server.host }, headersTimeout: 10_000, bodyTimeout: 10_000 });
      await r.body.dump();
      outside = `${r.statusCode} from ${String(r.headers["x-release"] ?? "") || "no X-Release header"}`;
    } catch (err) {
      outside = `no answer (${(err as Error).message})`;
    }
    const inside = "error" in server.inside ? `no answer (${server.inside.error})` : `${server.inside.status} from ${server.inside.release || "no X-Release header"}`;
    return [outside === inside && !("error" in server.inside), `GET ${url}: ${outside}; from the server itself: ${inside}`];
  },
};

/** One evaluation of every check: the server's results, and the outside ones, in the checklist's order. */
export async function verifyOnce(t: VerifyTarget): Promise<VerifyReport> {
  const server = await serverSide(t);
  const fill = (text: string) => text.replace(/<env>/g, t.env.name).replace(/<user>/g, t.env.user).replace(/<tool>/g, `${t.config.project}-release`);
  const results: CheckResult[] = [];
  for (const c of checklist()) {
    const filled = { ...c, sentence: fill(c.sentence), expects: fill(c.expects), lookAt: fill(c.lookAt) };
    if (c.side !== "outside") {
      results.push(server.results.find((x) => x.id === c.id) ?? { ...filled, status: "failed", seen: "the server's tool did not report it: install the tool and its config from this recipe" });
      continue;
    }
    const evaluate = OUTSIDE_CHECKS[c.id];
    const [ok, seen] = evaluate ? await evaluate(server, t.baseUrl) : [false, "this harness has no evaluation for it"];
    results.push({ ...filled, status: ok ? "passed" : "failed", seen });
  }
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
