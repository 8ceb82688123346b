import type { StartedTestbed } from "../testbed/testbed.ts";

export interface ServerPlatform {
  /** /etc/os-release's PRETTY_NAME, e.g. "Debian GNU/Linux 13 (trixie)". */
  os: string;
  python: string;
  systemd: string;
  nginx: string;
  /** The database server's PostgreSQL major version(s), from its clusters. */
  postgres: string;
}

/**
 * What the servers actually run, read from them rather than from TESTBED_BASE: the versions that
 * decide whether a recipe works (a restart's semantics changed with systemd 254, a venv's wheels
 * follow Python's version, pg_hba's path follows PostgreSQL's).
 */
export async function serverPlatform(tb: StartedTestbed): Promise<ServerPlatform> {
  const [app, db] = await Promise.all([
    tb.app.exec.run(
      `. /etc/os-release; echo "$PRETTY_NAME"; python3 -c 'import platform; print(platform.python_version())'; ` +
        `systemctl --version | awk 'NR==1{print $2}'; nginx -v 2>&1 | sed 's#.*/##'`,
    ),
    tb.db.exec.run(`pg_lsclusters --no-header | awk '{print $1}' | sort -u | paste -sd, -`),
  ]);
  const [os = "", python = "", systemd = "", nginx = ""] = app.stdout.trim().split("\n");
  return { os, python, systemd, nginx, postgres: db.stdout.trim() };
}

export function describeServerPlatform(p: ServerPlatform): string {
  return `${p.os}: Python ${p.python}, PostgreSQL ${p.postgres}, systemd ${p.systemd}, nginx ${p.nginx}`;
}
