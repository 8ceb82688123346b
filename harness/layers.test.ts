import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { listFiles } from "./plumbing/files.ts";
import { PROJECT_ROOT } from "./plumbing/paths.ts";

/**
 * Imports point one way: scripts → tools → sandbox/pipeline/verify/snapshots → recipe →
 * probes/testbed/release → images → shell/docker → domain/project/lifecycle → plumbing. A file's
 * layer is its folder; it may import its own layer or a lower one, never a higher one. A new folder
 * must be given a rank here before anything in it passes.
 */
const RANKS: Record<string, number> = {
  scripts: 8,
  // Tools that drive the whole harness: the bench, the fault catalogue, the suite's runs and shards.
  bench: 7,
  faults: 7,
  suite: 7,
  // A team's gate on its own project: preflight, deploys, checklists and broken releases, as one command.
  gate: 7,
  sandbox: 6,
  // The checklist against a deployed environment (npm run verify), over any runner.
  verify: 6,
  pipeline: 6,
  snapshots: 6,
  recipe: 5,
  // Each environment's settings judged by the project's own Django, before any server changes.
  preflight: 5,
  // The release tool (release-tool/, Python on the servers) as the harness installs and reads it.
  release: 4,
  probes: 4,
  testbed: 4,
  // Images are built through the engine; the engine knows nothing of images.
  images: 3,
  shell: 2,
  docker: 2,
  // The domain: the environment table, a run's hooks, a Django project as its repository holds it,
  // and the named, timed steps everything runs in.
  domain: 1,
  project: 1,
  lifecycle: 1,
  // What any layer may use: deadlines, files, locks, logs, paths, processes and the settings.
  plumbing: 0,
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

/** The settings module, and the CLIs' entry that lays a command's flags over it: the only readers of process.env. */
const ENVIRONMENT_READERS = ["harness/plumbing/settings.ts", "scripts/cli.ts"];
const readsEnvironment = (text: string) => /\bprocess\s*(\.\s*env\b|\[\s*["'`]env["'`]\s*\])/.test(text);

/** Each source file's imports of other source files (type-only ones too: a circle of types is still a circle). */
async function importGraph(): Promise<Map<string, string[]>> {
  const files = (await listFiles(PROJECT_ROOT, ["harness", "scripts"])).filter((f) => /\.(ts|mts)$/.test(f) && !/\.test\.ts$|\.d\.ts$/.test(f));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(PROJECT_ROOT, file), "utf8");
    graph.set(file, [...text.matchAll(/^(?:import|export)[^;]*?from "(\.{1,2}\/[^"]+)"/gms)].map((m) => relative(PROJECT_ROOT, join(PROJECT_ROOT, dirname(file), m[1]!))));
  }
  return graph;
}

/** The circles of a graph: its strongly connected components of more than one file, or a file importing itself (Tarjan). */
export function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do component.push((w = stack.pop()!));
      while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe("layers", () => {
  it("every import points to the same layer or a lower one", async () => {
    const upward: string[] = [];
    for (const [file, targets] of await importGraph()) {
      const [layer, rank] = layerOf(file);
      for (const target of targets) {
        const [toLayer, toRank] = layerOf(target);
        if (toRank > rank) upward.push(`${file} (${layer}) imports ${target} (${toLayer})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("only the settings module reads the process environment; every other module is given settings", async () => {
    const files = (await listFiles(PROJECT_ROOT, ["harness", "scripts"])).filter((f) => /\.(ts|mts)$/.test(f) && !/\.test\.ts$|\.d\.ts$/.test(f));
    const readers = files.filter((f) => !ENVIRONMENT_READERS.includes(f) && readsEnvironment(readFileSync(join(PROJECT_ROOT, f), "utf8")));
    expect(readers, "read it through settings() (harness/plumbing/settings.ts) instead").toEqual([]);
    expect(ENVIRONMENT_READERS.filter((f) => readsEnvironment(readFileSync(join(PROJECT_ROOT, f), "utf8")))).toEqual(ENVIRONMENT_READERS);
  });

  it("can fail: a module that reads process.env, by any access, is found", () => {
    expect(readsEnvironment("const host = process.env.DOCKER_HOST;")).toBe(true);
    expect(readsEnvironment("const { DOCKER_HOST } = process.env;")).toBe(true);
    expect(readsEnvironment('const x = process["env"];')).toBe(true);
    expect(readsEnvironment("const s = settings().dockerHost;")).toBe(false);
  });

  it("no file reaches itself through its imports: the house has no circle", async () => {
    expect(circles(await importGraph())).toEqual([]);
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

  it("can fail: a circle of two or three files, and a file importing itself, are found; a chain is not a circle", () => {
    expect(circles(new Map([["a", ["b"]], ["b", ["a"]], ["c", ["a"]]]))).toEqual([["a", "b"]]);
    expect(circles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]))).toEqual([["a", "b", "c"]]);
    expect(circles(new Map([["a", ["a"]]]))).toEqual([["a"]]);
    expect(circles(new Map([["a", ["b"]], ["b", ["c"]], ["c", []]]))).toEqual([]);
  });

  it("can fail: a file's layer comes from its folder, and an unknown folder is refused", () => {
    expect(layerOf("harness/testbed/testbed.ts")[1]).toBeLessThan(layerOf("harness/recipe/recipe.ts")[1]);
    expect(layerOf("harness/faults/inject.ts")[1]).toBeGreaterThan(layerOf("harness/sandbox/start.ts")[1]);
    expect(() => layerOf("harness/misc/thing.ts")).toThrow(/folder misc\/ has no layer/);
    expect(() => layerOf("harness/thing.ts")).toThrow(/directly under harness/);
  });
});
