import { sh } from "../shell/quote.ts";
import type { Server } from "../testbed/server.ts";

export interface FileInfo {
  exists: boolean;
  mode: string;
  owner: string;
  group: string;
  sha256: string;
}

export async function fileInfo(server: Server, path: string): Promise<FileInfo> {
  const r = await server.exec.run(sh`stat -c '%a %U %G' ${path} && sha256sum ${path} | cut -d' ' -f1`, { allowFailure: true });
  if (r.exitCode !== 0) return { exists: false, mode: "", owner: "", group: "", sha256: "" };
  const [stat, sum] = r.stdout.trim().split("\n");
  const [mode, owner, group] = (stat ?? "").split(" ");
  return { exists: true, mode: mode ?? "", owner: owner ?? "", group: group ?? "", sha256: sum ?? "" };
}
