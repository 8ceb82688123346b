import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { waitFor } from "./deadline.ts";
import { processAlive } from "./process.ts";

/**
 * Runs `fn` while holding a lock directory, so that two runs on one engine (two shards side by side,
 * say) never build the same images or snapshots at once: the second waits, then finds them made.
 * A lock whose owner process is gone is taken over.
 */
export async function withLock<T>(path: string, what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  await waitFor(
    `${what}: another run holds ${path}`,
    async () => {
      try {
        await mkdir(path);
        await writeFile(`${path}/pid`, String(process.pid));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const owner = Number(await readFile(`${path}/pid`, "utf8").catch(() => "0"));
        // A lock just made may not have its pid yet; only a dead owner's lock is taken over.
        if (owner && !processAlive(owner)) await rm(path, { recursive: true, force: true });
        return undefined;
      }
    },
    { timeoutMs },
  );
  try {
    return await fn();
  } finally {
    await rm(path, { recursive: true, force: true });
  }
}
