import { settings } from "../plumbing/settings.ts";

/**
 * The servers' platform, from TESTBED_BASE (or `--base`): a Debian suite built here with
 * debootstrap (no registry needed), or any image reference a registry serves. Its slug tags and
 * labels the images and snapshots it shapes, so two platforms' caches never collide (wheelhouses
 * are keyed by what wheels depend on: the servers' Python ABI and machine).
 */
export interface Platform {
  /** What the user wrote, normalised: "debootstrap:bookworm", "debootstrap:trixie", "ubuntu:24.04". */
  spec: string;
  /** For tags, labels and cache paths: "bookworm", "trixie", "ubuntu-24.04". */
  slug: string;
  /** A debootstrap suite, or undefined for a registry image. */
  suite?: string;
  /** A registry image reference, or undefined for a debootstrap suite. */
  image?: string;
}

/** The suites this project builds with debootstrap and has run its whole suite on. */
export const DEBOOTSTRAP_SUITES = ["bookworm", "trixie"] as const;
export const DEFAULT_SUITE = "bookworm";

export class PlatformError extends Error {
  override name = "PlatformError";
}

export function parsePlatform(value: string | undefined): Platform {
  const text = (value ?? "").trim();
  // Plain `debootstrap` was the only spelling before trixie; it still means the default suite.
  if (text === "" || text === "debootstrap") return debootstrap(DEFAULT_SUITE);
  const m = /^debootstrap:(.*)$/.exec(text);
  if (m) {
    const suite = m[1]!;
    if (!(DEBOOTSTRAP_SUITES as readonly string[]).includes(suite)) {
      throw new PlatformError(
        `TESTBED_BASE=${text}: no such debootstrap suite here. Use one of ${DEBOOTSTRAP_SUITES.map((s) => `debootstrap:${s}`).join(", ")}, ` +
          `or a registry image such as ubuntu:24.04.`,
      );
    }
    return debootstrap(suite);
  }
  // A reference: lower case, no spaces (docker's own rule, checked here so the error is ours).
  if (!/^[a-z0-9][a-z0-9._\-/:@]*$/.test(text)) {
    throw new PlatformError(
      `TESTBED_BASE=${JSON.stringify(text)} is neither debootstrap:<suite> nor an image reference (e.g. ubuntu:24.04). ` +
        `Unset it for Debian ${DEFAULT_SUITE}.`,
    );
  }
  return { spec: text, slug: text.replace(/[^a-z0-9.]+/g, "-").replace(/^-+|-+$/g, ""), image: text };
}

function debootstrap(suite: string): Platform {
  return { spec: `debootstrap:${suite}`, slug: suite, suite };
}

/**
 * The Python a debootstrap suite's servers run (Debian's python3), for checks made before any server
 * exists (preflight's wheelhouse and version checks); undefined for a registry image, whose Python
 * is known only once it runs.
 */
export function suitePython(platform: Platform): string | undefined {
  return platform.suite ? ({ bookworm: "3.11", trixie: "3.13" } as Record<string, string>)[platform.suite] : undefined;
}

/** The platform this process runs against: `explicit` (a --base flag) or TESTBED_BASE. */
export function selectedPlatform(explicit?: string): Platform {
  return parsePlatform(explicit ?? settings().base);
}

/** The label every image of the project carries with its platform's slug (pruning stays within it). */
export const PLATFORM_LABEL = "io.django-deploy-testbed.platform";
