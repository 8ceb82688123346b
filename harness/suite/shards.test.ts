import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listFiles } from "../core/files.ts";
import { PROJECT_ROOT } from "../core/paths.ts";
import { assignShards } from "./shards.ts";

const weights = (JSON.parse(readFileSync(`${PROJECT_ROOT}/specs/shard-weights.json`, "utf8")) as { seconds: Record<string, number> }).seconds;

describe("shards by measured time", () => {
  it("puts every spec file in exactly one shard, for 1 to 4 shards", async () => {
    const files = (await listFiles(PROJECT_ROOT, ["specs", "harness"])).filter((f) => f.endsWith(".test.ts"));
    for (const n of [1, 2, 3, 4]) {
      const shards = assignShards(files, weights, n);
      expect(shards).toHaveLength(n);
      expect(shards.flat().sort()).toEqual([...files].sort());
    }
  });

  it("balances the e2e files: two shards within 10 % of each other by the measured times", () => {
    const e2e = Object.keys(weights);
    const total = (files: string[]) => files.reduce((s, f) => s + weights[f]!, 0);
    const [a, b] = assignShards(e2e, weights, 2).map(total) as [number, number];
    expect(Math.abs(a - b) / Math.max(a, b)).toBeLessThan(0.1);
  });

  it("splits the same way in every shard's process (order of input does not matter), and refuses n < 1", () => {
    const files = ["c", "a", "b", "d"];
    expect(assignShards(files, { a: 5, b: 3 }, 2)).toEqual(assignShards([...files].reverse(), { a: 5, b: 3 }, 2));
    expect(assignShards(files, { a: 5, b: 3 }, 2)).toEqual([["a"], ["b", "c", "d"]]);
    expect(() => assignShards(files, {}, 0)).toThrow(/--shard=i\/n with n ≥ 1/);
  });
});

describe("shard order", () => {
  it("breaks equal weights by name, whatever order the files come in, and lists each shard's files sorted", async () => {
    const { assignShards } = await import("./shards.ts");
    const files = ["d", "b", "a", "c"];
    expect(assignShards(files, {}, 2)).toEqual([["a", "c"], ["b", "d"]]);
    expect(assignShards([...files].reverse(), {}, 2)).toEqual([["a", "c"], ["b", "d"]]);
    expect(assignShards(["z", "y"], { z: 5, y: 5 }, 1)).toEqual([["y", "z"]]);
  });
});
