import { shellQuote } from "../docker/exec.ts";
import type { Server } from "../testbed/server.ts";

export interface UnixSocketInfo {
  path: string;
  /** The path is a socket file (test -S). */
  isSocket: boolean;
  /** A process listens on it, as the kernel reports (ss -xl), not just a file by that name. */
  listening: boolean;
  owner: string;
  group: string;
}

export async function unixSocket(server: Server, path: string): Promise<UnixSocketInfo> {
  const q = shellQuote(path);
  const r = await server.sh(
    `if [ -S ${q} ]; then echo socket; stat -c '%U %G' ${q}; else echo none; echo '- -'; fi; ` +
      `ss -xlnH | awk '{print $5}' | grep -Fxq ${q} && echo listening || echo closed`,
  );
  const [kind, ids, listen] = r.stdout.trim().split("\n");
  const [owner, group] = (ids ?? "- -").split(" ");
  return { path, isSocket: kind === "socket", listening: listen === "listening", owner: owner ?? "-", group: group ?? "-" };
}

/** TCP ports some process listens on (ss -tln). */
export async function listeningTcpPorts(server: Server): Promise<number[]> {
  const out = await server.check(`ss -tlnH | awk '{print $4}'`);
  return [...new Set(out.trim().split("\n").map((a) => Number(a.slice(a.lastIndexOf(":") + 1))))].sort((a, b) => a - b);
}
