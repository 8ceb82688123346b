import { sh } from "../shell/quote.ts";
import type { Environment } from "../domain/envs.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";
import { journal } from "./systemd.ts";

/** What a person needs when something did not come up: journals, nginx's errors, failed units. */
export async function diagnostics(tb: StartedTestbed, envs: Environment[] = tb.envs, lines = 15): Promise<string> {
  try {
    const parts: string[] = [];
    for (const env of envs) parts.push(`--- journalctl -u ${env.unit} (app server)\n${await journal(tb.app, env.unit, lines)}`);
    const nginx = await tb.app.exec.run(sh`tail -n ${lines} /var/log/nginx/error.log 2>&1`, { allowFailure: true });
    parts.push(`--- /var/log/nginx/error.log (app server)\n${nginx.output.trim() || "(empty)"}`);
    for (const server of [tb.app, tb.db]) {
      const failed = await server.exec.run("systemctl --failed --no-legend --plain", { allowFailure: true });
      parts.push(`--- systemctl --failed (${server.label})\n${failed.output.trim() || "(none)"}`);
    }
    return parts.join("\n");
  } catch (err) {
    return `(diagnostics unavailable: ${(err as Error).message})`;
  }
}

/**
 * Appends a testbed's diagnostics to an error's message (once), so the failure carries what the
 * servers said; `which` names the testbed in the heading ("testbed", "the snapshot testbed").
 */
export async function withDiagnostics(tb: StartedTestbed, err: unknown, which = "testbed"): Promise<unknown> {
  if (err instanceof Error && !err.message.includes("--- journalctl")) {
    err.message += `\n\nDiagnostics from ${which} ${tb.id}:\n${await diagnostics(tb)}`;
  }
  return err;
}
