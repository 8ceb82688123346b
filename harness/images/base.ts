import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docker } from "../docker/client.ts";
import type { Logger } from "../plumbing/log.ts";
import { formatDuration } from "../plumbing/log.ts";
import { IMAGE_LABEL, imageExists, refParts } from "./build.ts";
import { DEFAULT_SUITE, PLATFORM_LABEL, type Platform } from "./base-platform.ts";
import { settings } from "../plumbing/settings.ts";

// Bump when the way the rootfs is made changes, so the tag changes with it.
const RECIPE_VERSION = "1";

export class BaseImageError extends Error {
  override name = "BaseImageError";
}

/** The Debian mirror the host's own apt uses, so the rootfs comes from the same place. */
export function hostDebianMirror(): string | undefined {
  const { debianMirror } = settings();
  if (debianMirror) return debianMirror;
  const texts: string[] = [];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((f) => /\.(sources|list)$/.test(f))) texts.push(readFileSync(join(dir, f), "utf8"));
  }
  if (existsSync("/etc/apt/sources.list")) texts.push(readFileSync("/etc/apt/sources.list", "utf8"));
  for (const text of texts) {
    const deb822 = text.match(/^URIs:\s*(\S+)/m);
    if (deb822 && /\/debian\/?$/.test(deb822[1]!)) return deb822[1];
    const oneLine = text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian\/?)\s+\S+/m);
    if (oneLine) return oneLine[1];
  }
  return undefined;
}

function run(cmd: string, args: string[], log: Logger, label: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const onData = (b: Buffer) => {
      for (const line of b.toString().split("\n").filter(Boolean)) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        log.progress(`${label}: ${line}`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => reject(new BaseImageError(`${label}: cannot run ${cmd}: ${err.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve(tail.join("\n")) : reject(new BaseImageError(`${label}: ${cmd} exited ${code}\n${tail.slice(-15).join("\n")}`)),
    );
  });
}

/** Returns the base image reference, building the debootstrap one if it is not there yet. */
export async function ensureBaseImage(platform: Platform, log: Logger): Promise<string> {
  if (platform.image) {
    if (!(await imageExists(platform.image))) await pullImage(platform.image, log);
    return platform.image;
  }
  const suite = platform.suite!;
  const mirror = hostDebianMirror();
  const tag = createHash("sha256").update(`${suite}|minbase|${mirror ?? "default"}|${RECIPE_VERSION}`).digest("hex").slice(0, 12);
  const ref = `django-deploy-testbed/base:${suite}-${tag}`;
  if (await imageExists(ref)) return ref;
  if (process.getuid?.() !== 0 || !existsSync("/usr/sbin/debootstrap")) {
    throw new BaseImageError(
      `base image: building ${ref} needs debootstrap run as root (found: ${process.getuid?.() === 0 ? "root, no /usr/sbin/debootstrap" : "not root"}). ` +
        `Install it with 'apt-get install debootstrap' as root, or set TESTBED_BASE=ubuntu:24.04 where a registry is reachable.`,
    );
  }
  const started = Date.now();
  log.info(`image base: debootstrap ${suite} into a rootfs${mirror ? ` from ${mirror}` : ""}`);
  const dir = await mkdtemp(join(tmpdir(), "ddt-rootfs-"));
  try {
    await run("/usr/sbin/debootstrap", ["--variant=minbase", suite, dir, ...(mirror ? [mirror] : [])], log, "base");
    // Device nodes belong to the engine, and a rootfs copy of them cannot be imported unprivileged.
    await rm(join(dir, "dev"), { recursive: true, force: true });
    await rm(join(dir, "var/cache/apt/archives"), { recursive: true, force: true });
    const tarProc = spawn("tar", ["--numeric-owner", "-C", dir, "-cf", "-", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const stream: NodeJS.ReadableStream = await docker().importImage(tarProc.stdout as never, {
      ...refParts(ref),
      changes: [`LABEL ${IMAGE_LABEL}=base`, `LABEL ${PLATFORM_LABEL}=${platform.slug}`, 'CMD ["/bin/bash"]'],
    } as never) as unknown as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => docker().modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve())));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (!(await imageExists(ref))) throw new BaseImageError(`base image: import of ${ref} produced no image`);
  log.info(`image base: ${ref} ready in ${formatDuration(Date.now() - started)}`);
  return ref;
}

async function pullImage(ref: string, log: Logger): Promise<void> {
  log.info(`image base: pulling ${ref}`);
  try {
    const stream = await docker().pull(ref);
    await new Promise<void>((resolve, reject) =>
      docker().modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve()), (ev: { status?: string }) => ev.status && log.progress(`pull: ${ev.status}`)),
    );
  } catch (err) {
    throw new BaseImageError(
      `base image: cannot pull ${ref}: ${(err as Error).message}. No registry is reachable? Unset TESTBED_BASE to build Debian ${DEFAULT_SUITE} locally with debootstrap.`,
    );
  }
}
