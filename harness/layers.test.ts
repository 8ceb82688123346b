import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { listFiles } from "./core/files.ts";
import { PROJECT_ROOT } from "./core/paths.ts";

/**
 * Imports point one way: scripts → tools → sandbox/pipeline → recipe → probes/testbed →
 * shell/docker/images → core. A file's layer is its folder; it may import its own layer or a lower
 * one, never a higher one. A new folder must be given a rank here before anything in it passes.
 */
const RANKS: Record<string, number> = {
  scripts: 6,
  // Tools that drive the whole harness: the bench, the fault catalogue, the suite's shard split.
  bench: 5,
  faults: 5,
  suite: 5,
  sandbox: 4,
  // The checklist against a deployed environment (npm run verify), over any runner.
  verify: 4,
  pipeline: 4,
  snapshots: 4,
  recipe: 3,
  // The release tool (release-tool/, Python on the servers) as the harness installs and reads it.
  release: 2,
  probes: 2,
  testbed: 2,
  shell: 1,
  docker: 1,
  images: 1,
  core: 0,
  lifecycle: 0,
  // A Django project as its repository holds it: read from files, below everything that deploys it.
  project: 0,
};

/** "harness/recipe/units.ts" → "recipe"; "scripts/sandbox.ts" → "scripts". */
export function layerOf(file: string): [folder: string, rank: number] {
  const parts = file.split("/");
  const folder = parts[0] === "harness" ? parts[1]! : parts[0]!;
  if (parts[0] === "harness" && parts.length < 3) throw new Error(`${file}: directly under harness/; put it in the folder of its layer`);
  const rank = RANKS[folder];
  if (rank === undefined) throw new Error(`${file}: folder ${folder}/ has no layer; give it a rank in RANKS (harness/layers.test.ts)`);
  return [folder, rank];
}

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

  it("every folder under harness/ has a layer, and the root holds only this spec", () => {
    const entries = readdirSync(join(PROJECT_ROOT, "harness"), { withFileTypes: true });
    expect(entries.filter((e) => e.isFile()).map((e) => e.name)).toEqual(["layers.test.ts"]);
    for (const dir of entries.filter((e) => e.isDirectory())) expect(RANKS, dir.name).toHaveProperty(dir.name);
  });

  it("no two source files share a base name", async () => {
    const files = (await listFiles(PROJECT_ROOT, ["harness", "scripts"])).filter((f) => /\.(ts|py)$/.test(f) && !/\.(test|d)\.ts$/.test(f));
    const byName = new Map<string, string[]>();
    for (const f of files) byName.set(f.split("/").at(-1)!, [...(byName.get(f.split("/").at(-1)!) ?? []), f]);
    // A CLI in scripts/ named after the library folder it drives is one concept at two layers.
    const clashes = [...byName.values()].filter((paths) => paths.length > 1 && !(paths.length === 2 && paths.some((p) => p.startsWith("scripts/"))));
    expect(clashes).toEqual([]);
  });

  it("can fail: a file's layer comes from its folder, and an unknown folder is refused", () => {
    expect(layerOf("harness/testbed/testbed.ts")[1]).toBeLessThan(layerOf("harness/recipe/recipe.ts")[1]);
    expect(layerOf("harness/faults/inject.ts")[1]).toBeGreaterThan(layerOf("harness/sandbox/start.ts")[1]);
    expect(() => layerOf("harness/misc/thing.ts")).toThrow(/folder misc\/ has no layer/);
    expect(() => layerOf("harness/thing.ts")).toThrow(/directly under harness/);
  });
});
