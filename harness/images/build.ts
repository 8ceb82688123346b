import tar from "tar-fs";
import { docker, isNotFound } from "../docker/client.ts";
import type { Logger } from "../plumbing/log.ts";
import { formatDuration } from "../plumbing/log.ts";
import { DEFAULT_SUITE, PLATFORM_LABEL, type Platform } from "./base-platform.ts";

export const IMAGE_LABEL = "io.django-deploy-testbed.image";

export class ImageBuildError extends Error {
  constructor(readonly image: string, readonly step: string, readonly tail: string, reason: string) {
    super(
      `image ${image}: build failed at ${step || "the first step"}: ${reason}\n` +
        `last output:\n${tail}\n` +
        `Fix the recipe under images/, or set TESTBED_BASE to another base image, then run again.`,
    );
    this.name = "ImageBuildError";
  }
}

/** An image reference's repository and tag (the tag follows the last ":", after any registry port). */
export function refParts(ref: string): { repo: string; tag: string } {
  const at = ref.lastIndexOf(":");
  return at > ref.lastIndexOf("/") ? { repo: ref.slice(0, at), tag: ref.slice(at + 1) } : { repo: ref, tag: "latest" };
}

export async function imageExists(ref: string): Promise<boolean> {
  try {
    await docker().getImage(ref).inspect();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Builds `ref` from a tar-fs context with the classic builder, streaming progress lines. */
export async function buildImage(opts: {
  name: string;
  ref: string;
  contextDir: string;
  entries: string[];
  dockerfile: string;
  buildArgs?: Record<string, string>;
  platform: Platform;
  log: Logger;
}): Promise<void> {
  const started = Date.now();
  opts.log.info(`image ${opts.name}: building ${opts.ref}`);
  const context = tar.pack(opts.contextDir, { entries: opts.entries }) as unknown as NodeJS.ReadableStream;
  const stream: NodeJS.ReadableStream = await docker().buildImage(context, {
    t: opts.ref,
    dockerfile: opts.dockerfile,
    buildargs: opts.buildArgs,
    labels: { [IMAGE_LABEL]: opts.name, [PLATFORM_LABEL]: opts.platform.slug },
    rm: true,
    forcerm: true,
  });
  const lines: string[] = [];
  let step = "";
  let failure: string | undefined;
  await new Promise<void>((resolve, reject) => {
    docker().modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: BuildEvent) => {
        if (event.error || event.errorDetail) failure = event.errorDetail?.message ?? event.error;
        const text = event.stream ?? event.status ?? "";
        for (const line of text.split("\n").map((l) => l.trimEnd()).filter(Boolean)) {
          if (/^Step \d+\/\d+ :/.test(line)) step = line;
          lines.push(line);
          if (lines.length > 200) lines.shift();
          opts.log.progress(`${opts.name}: ${line.length > 160 ? `${line.slice(0, 157)}...` : line}`);
        }
      },
    );
  }).catch((err: Error) => {
    failure ??= err.message;
  });
  if (failure !== undefined || !(await imageExists(opts.ref))) {
    throw new ImageBuildError(opts.name, step, lines.slice(-15).join("\n"), failure ?? "no image was produced");
  }
  opts.log.info(`image ${opts.name}: built in ${formatDuration(Date.now() - started)}`);
}

/**
 * After a rebuild, removes this image's older tags: each change of inputs makes a new tag, and
 * nothing else would ever remove the old ones. One still used by a container is left alone.
 */
export async function pruneOlderTags(name: string, current: string, platform: Platform): Promise<void> {
  const images = await docker().listImages({ filters: { label: [`${IMAGE_LABEL}=${name}`] } });
  // Only this platform's: another platform's images are current for that platform. Images made
  // before platforms had labels were all of the default suite.
  const ours = (i: { Labels?: Record<string, string> | null }) => (i.Labels?.[PLATFORM_LABEL] ?? DEFAULT_SUITE) === platform.slug;
  for (const img of images.filter((i) => ours(i) && !(i.RepoTags ?? []).includes(current))) {
    await docker().getImage(img.Id).remove({ force: false }).catch(() => undefined);
  }
}
