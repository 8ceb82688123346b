import type { Duplex } from "node:stream";
import pg from "pg";
import { SshRunner } from "../shell/ssh.ts";
import type { Environment } from "../domain/envs.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";
import { SERVER_ALIASES } from "../testbed/server.ts";

/**
 * Connects to an environment's database the way the app does: from the app server (an ssh tunnel
 * through it), so pg_hba's rule for the app server's address is what admits or refuses it.
 */
export async function withDatabase<T>(
  tb: StartedTestbed,
  env: Environment,
  /** The role (the environment's by default) and its password, which the recipe made. */
  as: { password: string; role?: string; database?: string },
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const remote = await SshRunner.connect("app server", tb.app.sshConfig());
  try {
    const channel = (await remote.ssh.forwardOut("127.0.0.1", 0, SERVER_ALIASES.db, 5432)) as unknown as Duplex;
    // pg drives a socket; an ssh channel is already connected, so these are no-ops.
    const stream = Object.assign(channel, {
      setNoDelay: () => channel,
      setKeepAlive: () => channel,
      connect: () => process.nextTick(() => channel.emit("connect")),
    });
    const client = new pg.Client({
      stream: () => stream as never,
      user: as.role ?? env.role,
      password: as.password,
      database: as.database ?? env.database,
      host: SERVER_ALIASES.db,
      port: 5432,
    } as pg.ClientConfig);
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  } finally {
    remote.dispose();
  }
}

export async function appliedMigrations(tb: StartedTestbed, env: Environment, password: string): Promise<string[]> {
  return withDatabase(tb, env, { password }, async (c) => {
    const r = await c.query<{ name: string }>("SELECT app || '.' || name AS name FROM django_migrations ORDER BY id");
    return r.rows.map((row) => row.name);
  });
}
