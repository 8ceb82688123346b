import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listFiles } from "../plumbing/files.ts";
import { PROJECT_ROOT } from "../plumbing/paths.ts";
import { assignShards, seededShuffle } from "./shards.ts";

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
    // Placed heaviest first (z, then a and b), listed by name.
    expect(assignShards(["b", "a", "z"], { z: 10 }, 1)).toEqual([["a", "b", "z"]]);
    expect(assignShards(["c", "b", "a"], { c: 3, b: 2, a: 1 }, 2)).toEqual([["c"], ["a", "b"]]);
  });
});

describe("a seeded shuffle (--sequence.shuffle over files)", () => {
  const items = ["a", "b", "c", "d", "e", "f", "g", "h"];

  it("gives the same order for the same seed and another for another seed, always a permutation", () => {
    expect(seededShuffle(items, 101)).toEqual(seededShuffle(items, 101));
    expect(seededShuffle(items, 101)).not.toEqual(seededShuffle(items, 102));
    for (const seed of [0, 1, 101, 2 ** 32 - 1]) expect([...seededShuffle(items, seed)].sort()).toEqual(items);
    expect(items).toEqual(["a", "b", "c", "d", "e", "f", "g", "h"]);
    expect(seededShuffle([], 7)).toEqual([]);
    // The order is the seed's on every machine and every version: a seed a failed run printed
    // gives the same order later (mulberry32 and Fisher-Yates, as written).
    expect(seededShuffle(items, 1)).toEqual(["c", "b", "g", "h", "e", "d", "a", "f"]);
    expect(seededShuffle(items, 303)).toEqual(["e", "a", "d", "b", "g", "c", "f", "h"]);
  });

  it("puts every item first, and every item last, for some seed, about equally often", () => {
    const first = new Map<string, number>();
    const last = new Map<string, number>();
    let unchanged = 0;
    for (let seed = 0; seed < 800; seed++) {
      const order = seededShuffle(items, seed);
      first.set(order[0]!, (first.get(order[0]!) ?? 0) + 1);
      last.set(order.at(-1)!, (last.get(order.at(-1)!) ?? 0) + 1);
      if (order.join() === items.join()) unchanged++;
    }
    // 800 seeds over 8 items: 100 each on average; a biased shuffle (an off-by-one in the swap) leaves
    // some item never first or never last.
    for (const counts of [first, last]) {
      expect([...counts.keys()].sort()).toEqual(items);
      for (const [item, n] of counts) expect(n, item).toBeGreaterThan(50);
    }
    expect(unchanged).toBeLessThan(5);
  });
});
