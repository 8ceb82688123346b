import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";

/** Lists files under `root`/`entries` in a stable order. */
export async function listFiles(root: string, entries: string[]): Promise<string[]> {
  const out: string[] = [];
  async function walk(path: string): Promise<void> {
    const s = await stat(path);
    if (s.isDirectory()) {
      for (const name of (await readdir(path)).sort()) await walk(join(path, name));
    } else {
      out.push(relative(root, path));
    }
  }
  for (const e of [...entries].sort()) await walk(join(root, e));
  return out;
}
