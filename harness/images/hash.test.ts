import { mkdtemp, writeFile, mkdir, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { contentHash } from "./hash.ts";

describe("content hash", () => {
  it("changes with bytes, names, modes and extra inputs, and only with them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hash-"));
    await mkdir(join(dir, "a"));
    await writeFile(join(dir, "a", "Dockerfile"), "FROM x\n");
    const h1 = await contentHash(dir, ["a"]);
    expect(await contentHash(dir, ["a"])).toBe(h1);
    expect(await contentHash(dir, ["a"], ["base-id"])).not.toBe(h1);
    await chmod(join(dir, "a", "Dockerfile"), 0o755);
    const h2 = await contentHash(dir, ["a"]);
    expect(h2).not.toBe(h1);
    await writeFile(join(dir, "a", "Dockerfile"), "FROM y\n");
    expect(await contentHash(dir, ["a"])).not.toBe(h2);
  });
});
