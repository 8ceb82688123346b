import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { docker } from "../../harness/docker/client.ts";
import { buildImage, ImageBuildError, imageExists } from "../../harness/images/build.ts";
import { ensureImages } from "../../harness/images/catalog.ts";

function recordingLogger() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => void lines.push(m), progress: (m: string) => void lines.push(m) } };
}

describe("images", () => {
  it("are not rebuilt when nothing that goes into them changed", async () => {
    const first = await ensureImages({ log: recordingLogger().log });
    const { lines, log } = recordingLogger();
    const again = await ensureImages({ log });
    expect(again).toEqual(first);
    expect(lines.filter((l) => /building|debootstrap/.test(l))).toEqual([]);
    for (const ref of Object.values(again)) expect(await imageExists(ref)).toBe(true);
  });

  it("a failing build step raises an error naming the image, the step and its last output", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ddt-broken-"));
    const ref = `django-deploy-testbed/broken:${Date.now()}`;
    try {
      await mkdir(join(dir, "broken"));
      const { base } = await ensureImages({ log: recordingLogger().log });
      await writeFile(join(dir, "broken", "Dockerfile"), `ARG BASE\nFROM \${BASE}\nRUN echo preparing && echo "no such package: ddt-missing" >&2 && exit 3\n`);
      const { lines, log } = recordingLogger();
      const err = await buildImage({ name: "broken", ref, contextDir: dir, entries: ["broken"], dockerfile: "broken/Dockerfile", buildArgs: { BASE: base }, log }).catch((e) => e);
      expect(err).toBeInstanceOf(ImageBuildError);
      expect(err.message).toMatch(/^image broken: build failed at Step 3\/4 : RUN echo preparing/);
      expect(err.message).toContain("no such package: ddt-missing");
      expect(err.message).toMatch(/returned a non-zero code: 3/);
      expect(lines.some((l) => l.includes("broken: Step 1/4 : ARG BASE"))).toBe(true);
      expect(await imageExists(ref)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await docker().getImage(ref).remove({ force: true }).catch(() => undefined);
    }
  });
});
