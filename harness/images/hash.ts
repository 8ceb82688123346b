import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { listFiles } from "../plumbing/files.ts";

/** A content hash of the files (names, modes, bytes) and extra inputs: the image tag. */
export async function contentHash(root: string, entries: string[], extra: string[] = [], skip?: ReadonlySet<string>): Promise<string> {
  const h = createHash("sha256");
  for (const x of extra) h.update(`extra:${x}\0`);
  for (const file of await listFiles(root, entries, skip)) {
    const path = join(root, file);
    const mode = (await stat(path)).mode & 0o111 ? "x" : "-";
    h.update(`${file}\0${mode}\0`).update(await readFile(path)).update("\0");
  }
  return h.digest("hex").slice(0, 16);
}
