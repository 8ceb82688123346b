import { fileURLToPath } from "node:url";
import { docker } from "../docker/client.ts";
import type { Logger } from "../plumbing/log.ts";
import { formatDuration } from "../plumbing/log.ts";
import { ensureBaseImage } from "./base.ts";
import { buildImage, imageExists, pruneOlderTags } from "./build.ts";
import { contentHash } from "./hash.ts";
import { selectedPlatform, type Platform } from "./base-platform.ts";

export const IMAGES_DIR = fileURLToPath(new URL("../../images/", import.meta.url));

export type ImageName = "appserver" | "dbserver" | "runner";

/** What goes into each image's build context (paths under images/). */
const CONTEXTS: Record<ImageName, string[]> = {
  appserver: ["appserver", "common"],
  dbserver: ["dbserver", "common"],
  runner: ["runner"],
};

export interface ImageSet {
  base: string;
  appserver: string;
  dbserver: string;
  runner: string;
}

/**
 * The tag of an image is its platform and a hash of its context and its base image's id: unchanged
 * inputs, no rebuild; another platform, another tag.
 */
export async function imageRef(name: ImageName, baseRef: string, platform: Platform): Promise<string> {
  const baseId = (await docker().getImage(baseRef).inspect()).Id;
  return `django-deploy-testbed/${name}:${platform.slug}-${await contentHash(IMAGES_DIR, CONTEXTS[name], [baseId])}`;
}

/** Ensures base, appserver, dbserver and runner exist, building only what is missing. */
export async function ensureImages(opts: { base?: string; log: Logger }): Promise<ImageSet> {
  const started = Date.now();
  const platform = selectedPlatform(opts.base);
  const base = await ensureBaseImage(platform, opts.log);
  const names: ImageName[] = ["appserver", "dbserver", "runner"];
  // Builds are mostly apt downloads, so running them side by side is faster even on 2 cores.
  let built = 0;
  const refs = await Promise.all(
    names.map(async (name) => {
      const ref = await imageRef(name, base, platform);
      if (!(await imageExists(ref))) {
        built++;
        await buildImage({ name, ref, contextDir: IMAGES_DIR, entries: CONTEXTS[name], dockerfile: `${name}/Dockerfile`, buildArgs: { BASE: base }, platform, log: opts.log });
        await pruneOlderTags(name, ref, platform);
      }
      return ref;
    }),
  );
  if (built) opts.log.info(`images ready in ${formatDuration(Date.now() - started)}`);
  return { base, appserver: refs[0]!, dbserver: refs[1]!, runner: refs[2]! };
}
