import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { docker } from "../../harness/docker/client.ts";
import { buildImage, ImageBuildError, imageExists, pruneOlderTags } from "../../harness/images/build.ts";
import { ensureImages } from "../../harness/images/catalog.ts";
import { parsePlatform, PLATFORM_LABEL, selectedPlatform } from "../../harness/images/base-platform.ts";

function recordingLogger() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => void lines.push(m), progress: (m: string) => void lines.push(m) } };
}

describe("images", () => {
  it("are not rebuilt when nothing that goes into them changed", async () => {
    const ids = async (refs: object) =>
      Object.fromEntries(await Promise.all(Object.entries(refs as Record<string, string>).map(async ([role, ref]) => [role, { id: (await docker().getImage(ref).inspect()).Id, ref }] as const)));
    const first = await ensureImages({ log: recordingLogger().log });
    const before = await ids(first);
    const { lines, log } = recordingLogger();
    const again = await ensureImages({ log });
    expect(again).toEqual(first);
    // The same images, by the engine's own ids: a rebuild under the same tag would change them.
    expect(await ids(again)).toEqual(before);
    expect(lines.filter((l) => /building|debootstrap/.test(l))).toEqual([]);
  });

  it("a failing build step raises an error naming the image, the step and its last output", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ddt-broken-"));
    const ref = `django-deploy-testbed/broken:${Date.now()}`;
    try {
      await mkdir(join(dir, "broken"));
      const { base } = await ensureImages({ log: recordingLogger().log });
      await writeFile(join(dir, "broken", "Dockerfile"), `ARG BASE\nFROM \${BASE}\nRUN echo preparing && echo "no such package: ddt-missing" >&2 && exit 3\n`);
      const { lines, log } = recordingLogger();
      const err = await buildImage({ name: "broken", ref, contextDir: dir, entries: ["broken"], dockerfile: "broken/Dockerfile", buildArgs: { BASE: base }, platform: selectedPlatform(), log }).catch((e) => e);
      expect(err).toBeInstanceOf(ImageBuildError);
      expect(err.message).toMatch(/^image broken: build failed at Step 3\/\d+ : RUN echo preparing/);
      expect(err.message).toContain("no such package: ddt-missing");
      expect(err.message).toMatch(/returned a non-zero code: 3/);
      expect(lines.some((l) => /broken: Step 1\/\d+ : ARG BASE/.test(l))).toBe(true);
      expect(await imageExists(ref)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await docker().getImage(ref).remove({ force: true }).catch(() => undefined);
    }
  });

  it("carry their platform, and pruning one platform's older tags leaves another platform's alone", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ddt-platforms-"));
    const { base } = await ensureImages({ log: recordingLogger().log });
    const stamp = Date.now();
    const refs = { oldA: `django-deploy-testbed/prune-probe:a-${stamp}-1`, newA: `django-deploy-testbed/prune-probe:a-${stamp}-2`, b: `django-deploy-testbed/prune-probe:b-${stamp}` };
    const a = parsePlatform("debootstrap:trixie");
    const b = parsePlatform("ubuntu:24.04");
    try {
      await mkdir(join(dir, "probe"));
      // A different RUN per image, so each is an image of its own and not one id under three tags.
      for (const [ref, platform] of [[refs.oldA, a], [refs.newA, a], [refs.b, b]] as const) {
        await writeFile(join(dir, "probe", "Dockerfile"), `ARG BASE\nFROM \${BASE}\nRUN echo ${JSON.stringify(ref)} > /probe\n`);
        await buildImage({ name: "prune-probe", ref, contextDir: dir, entries: ["probe"], dockerfile: "probe/Dockerfile", buildArgs: { BASE: base }, platform, log: recordingLogger().log });
      }
      expect((await docker().getImage(refs.b).inspect()).Config.Labels?.[PLATFORM_LABEL]).toBe("ubuntu-24.04");
      await pruneOlderTags("prune-probe", refs.newA, a);
      expect(await imageExists(refs.oldA)).toBe(false);
      expect(await imageExists(refs.newA)).toBe(true);
      expect(await imageExists(refs.b)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
      for (const ref of Object.values(refs)) await docker().getImage(ref).remove({ force: true }).catch(() => undefined);
    }
  });
});
