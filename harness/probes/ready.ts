import { waitFor } from "../plumbing/deadline.ts";
import type { Environment } from "../domain/envs.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";
import { diagnostics } from "./diagnostics.ts";
import { httpGet } from "./http.ts";
import { unixSocket } from "./socket.ts";

export class NotReadyError extends Error {
  override name = "NotReadyError";
}

/**
 * Waits until the environment's socket listens and the project's health path answers through nginx
 * below 500 from a release (X-Release, which the tool's WSGI wrapper adds to every answer).
 */
export async function waitForEnvironment(tb: StartedTestbed, env: Environment, timeoutMs: number, health = "/"): Promise<void> {
  const started = Date.now();
  try {
    await waitFor(`${env.socket} not a listening socket`, async () => ((await unixSocket(tb.app, env.socket)).listening ? true : undefined), { timeoutMs });
    let last = "";
    await waitFor(
      `GET ${health} through nginx on port ${env.port} did not answer below 500 from a release`,
      async () => {
        const r = await httpGet(tb.url(env.name, health));
        last = `${r.status} from ${r.headers["x-release"] ?? "no X-Release header"}: ${r.text.slice(0, 200)}`;
        return r.status < 500 && r.headers["x-release"] ? true : undefined;
      },
      { timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)), describe: (e) => `last answer: ${last || (e as Error)?.message}` },
    );
  } catch (err) {
    throw new NotReadyError(`${env.unit}: ${(err as Error).message} (app server)\n${await diagnostics(tb, [env])}`);
  }
}
