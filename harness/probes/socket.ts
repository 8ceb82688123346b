import { sh } from "../shell/quote.ts";
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
  const r = await server.exec.run(
    sh`if [ -S ${path} ]; then echo socket; stat -c '%U %G' ${path}; else echo none; echo '- -'; fi; ` +
      sh`ss -xlnH | awk '{print $5}' | grep -Fxq ${path} && echo listening || echo closed`,
    { allowFailure: true },
  );
  const [kind, ids, listen] = r.stdout.trim().split("\n");
  const [owner, group] = (ids ?? "- -").split(" ");
  return { path, isSocket: kind === "socket", listening: listen === "listening", owner: owner ?? "-", group: group ?? "-" };
}
