import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
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

/** A content hash of the files (names, modes, bytes) and extra inputs: the image tag. */
export async function contentHash(root: string, entries: string[], extra: string[] = []): Promise<string> {
  const h = createHash("sha256");
  for (const x of extra) h.update(`extra:${x}\0`);
  for (const file of await listFiles(root, entries)) {
    const path = join(root, file);
    const mode = (await stat(path)).mode & 0o111 ? "x" : "-";
    h.update(`${file}\0${mode}\0`).update(await readFile(path)).update("\0");
  }
  return h.digest("hex").slice(0, 16);
}
