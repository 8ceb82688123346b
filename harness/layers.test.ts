import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { listFiles } from "./images/hash.ts";
import { PROJECT_ROOT } from "./paths.ts";

/**
 * Imports point one way: scripts → sandbox/pipeline → recipe → probes/testbed → images/docker →
 * leaves. A file may import its own layer or a lower one, never a higher one.
 */
const LAYERS: Array<[layer: string, rank: number, files: RegExp]> = [
  ["scripts", 5, /^scripts\//],
  ["sandbox/pipeline", 4, /^harness\/(pipeline\/|bench\/|sandbox|snapshot)/],
  ["recipe", 3, /^harness\/recipe\//],
  ["probes/testbed", 2, /^harness\/(probes\/|testbed\/|remote)/],
  ["images/docker", 1, /^harness\/(docker\/|images\/|engine|wheelhouse)/],
  ["leaves", 0, /^harness\/(envs|quote|runner|deadline|log|paths|fixture|shards|lock|process|lifecycle\/|faults\/)/],
];

const layerOf = (file: string) => {
  const row = LAYERS.find(([, , re]) => re.test(file));
  if (!row) throw new Error(`${file}: in no layer; add it to LAYERS in harness/layers.test.ts`);
  return row;
};

describe("layers", () => {
  it("every import points to the same layer or a lower one", async () => {
    const files = (await listFiles(PROJECT_ROOT, ["harness", "scripts"])).filter((f) => /\.(ts|mts)$/.test(f) && !/\.test\.ts$|\.d\.ts$/.test(f));
    const upward: string[] = [];
    for (const file of files) {
      const [layer, rank] = layerOf(file);
      const text = readFileSync(join(PROJECT_ROOT, file), "utf8");
      for (const m of text.matchAll(/^import[^;]*?from "(\.{1,2}\/[^"]+)"/gms)) {
        const target = relative(PROJECT_ROOT, join(PROJECT_ROOT, dirname(file), m[1]!));
        const [toLayer, toRank] = layerOf(target);
        if (toRank > rank) upward.push(`${file} (${layer}) imports ${target} (${toLayer})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("can fail: an import from a higher layer is reported", () => {
    expect(layerOf("harness/testbed/testbed.ts")[1]).toBeLessThan(layerOf("harness/recipe/recipe.ts")[1]);
  });
});
