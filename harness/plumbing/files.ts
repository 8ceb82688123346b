import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";

/**
 * Python's byte-code caches: written by whatever imports the release tool's modules (its unit
 * specs, the coverage run), with the source's mtime inside, so never an input. Counted, they
 * changed the snapshot key under a running suite, and a fresh clone's first python3 run rewrote them.
 */
const BYTECODE_CACHE = "__pycache__";

/**
 * Lists files under `root`/`entries` in a stable order, without Python's byte-code caches, nor any
 * file or directory named in `skip` (a repository's .git, say).
 */
export async function listFiles(root: string, entries: string[], skip: ReadonlySet<string> = new Set()): Promise<string[]> {
  const out: string[] = [];
  async function walk(path: string): Promise<void> {
    const s = await stat(path);
    if (s.isDirectory()) {
      for (const name of (await readdir(path)).sort()) if (name !== BYTECODE_CACHE && !skip.has(name)) await walk(join(path, name));
    } else {
      out.push(relative(root, path));
    }
  }
  for (const e of [...entries].sort()) await walk(join(root, e));
  return out;
}
