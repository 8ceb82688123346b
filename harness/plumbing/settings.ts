import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The harness's settings: everything it takes from the process environment, read in one place, once
 * (testcontainers does the same with its configuration). An entry point, a CLI or the vitest setup,
 * reads them with its own flags laid over (`useSettings(readSettings(process.env, { base }))`), and
 * every module below asks `settings()`; none reads process.env itself (harness/layers.test.ts fails
 * on one that does). A process that never called useSettings gets the environment as it is.
 */
export interface Settings {
  /** DOCKER_HOST: the engine's address; undefined for the local socket. */
  dockerHost?: string;
  /** TESTCONTAINERS_HOST_OVERRIDE: the host published ports are reached on (dind's service name). */
  hostOverride?: string;
  /** --base, else TESTBED_BASE: the servers' platform; undefined for the default. */
  base?: string;
  /** TESTBED_DEBIAN_MIRROR: the apt mirror debootstrap and the images use, instead of the host's. */
  debianMirror?: string;
  /** TESTBED_PYTHON: the host's Python that downloads the wheelhouse (python3 by default). */
  python: string;
  /** TESTBED_FAULT: the catalogue's fault this run injects (npm run faults sets it). */
  fault?: string;
  /** TESTBED_OWNER_PID: the process that owns what this run creates (a test run's main process). */
  ownerPid: number;
  /** TESTBED_CGROUPNS=host|private: overrides the cgroup namespace the engine's table chose. */
  cgroupns?: "host" | "private";
  /** TESTBED_NO_INSTALL=1: never install an engine. */
  noInstall: boolean;
  /** TESTBED_CACHE, else $XDG_CACHE_HOME (~/.cache)/django-deploy-testbed: keys, wheelhouses, caches. */
  cacheRoot: string;
  /** TESTBED_QUIET=1: no progress lines (a child run whose output is read). */
  quiet: boolean;
  /** TESTBED_KEEP: which failed testbeds a spec run leaves running. */
  keep?: string;
  /** The environment these were read from: what the processes the harness starts inherit. */
  env: Readonly<NodeJS.ProcessEnv>;
}

/** The settings in an environment, with an entry point's flags laid over it. Pure: reads only `env`. */
export function readSettings(env: NodeJS.ProcessEnv, flags: Partial<Omit<Settings, "env">> = {}): Settings {
  const cgroupns = env.TESTBED_CGROUPNS || undefined;
  if (cgroupns !== undefined && cgroupns !== "host" && cgroupns !== "private") {
    throw new Error(`TESTBED_CGROUPNS=${cgroupns}: expected host or private; unset it to use the flags chosen for this engine`);
  }
  const read: Settings = {
    dockerHost: env.DOCKER_HOST || undefined,
    hostOverride: env.TESTCONTAINERS_HOST_OVERRIDE || undefined,
    base: env.TESTBED_BASE || undefined,
    debianMirror: env.TESTBED_DEBIAN_MIRROR || undefined,
    python: env.TESTBED_PYTHON || "python3",
    fault: env.TESTBED_FAULT || undefined,
    ownerPid: Number(env.TESTBED_OWNER_PID) || process.pid,
    cgroupns,
    noInstall: env.TESTBED_NO_INSTALL === "1",
    cacheRoot: env.TESTBED_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "django-deploy-testbed"),
    quiet: env.TESTBED_QUIET === "1",
    keep: env.TESTBED_KEEP || undefined,
    env: { ...env },
  };
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  return { ...read, ...given };
}

let current: Settings | undefined;

/**
 * Makes these the process's settings (an entry point calls it once, before anything else). The
 * packages that read their own configuration from the environment are told here too: testcontainers
 * must not start its reaper (its image cannot be pulled here; cleanup is by our own labels).
 */
export function useSettings(s: Settings): Settings {
  current = s;
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  return s;
}

/** The process's settings: those an entry point gave, else the environment as it is. */
export function settings(): Settings {
  return current ?? useSettings(readSettings(process.env));
}

/** The environment for a process the harness starts: its own, with `extra` laid over. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...settings().env, ...extra };
}
