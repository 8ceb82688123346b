import { docker } from "./client.ts";
import { settings } from "../plumbing/settings.ts";

/**
 * Which flags boot systemd as PID 1 on this engine, chosen from what the engine says about itself
 * (GET /info, GET /version): the least privilege that works on that kind of host, never --privileged.
 */
export interface EngineFacts {
  /** "1" or "2" (GET /info CgroupVersion). */
  cgroupVersion: string;
  /** GET /info ServerVersion, e.g. "20.10.24+dfsg1" or "28.1.1". */
  serverVersion: string;
  /** GET /info SecurityOptions, e.g. ["name=seccomp,profile=default", "name=apparmor"]. */
  securityOptions: string[];
  /** GET /version names a "Podman Engine" component. */
  podman: boolean;
}

export interface HostFlags {
  /** The cgroup namespace: the host's, or a private one. */
  cgroupns: "host" | "private";
  /** Bind the host's /sys/fs/cgroup read-write (systemd needs to write its own subtree). */
  bindCgroup: boolean;
  /** Docker ≥ 28: `--security-opt writable-cgroups=true` gives a private namespace a writable cgroupfs. */
  writableCgroups: boolean;
  /** AppArmor's docker-default profile denies the mounts systemd makes. */
  apparmorUnconfined: boolean;
  /**
   * systemd ≥ 256 refuses a cgroup v1 host unless told otherwise (systemd#31442); a container's
   * systemd reads its "kernel command line" from PID 1's arguments. Older systemd ignores it.
   */
  legacyCgroupForce: boolean;
  /** The row of the table that chose them, as the README names it. */
  row: string;
  /** Whether that row was run on this project's machine, or is taken from others' reports. */
  verified: "run here" | "run here (emulated cgroup v2 engine)" | "documented only";
}

const option = (facts: EngineFacts, name: string) => facts.securityOptions.some((o) => o.split(",").includes(`name=${name}`));

/** The engine's major version ("20.10.24+dfsg1" → 20); 0 when it cannot be read. */
export function engineMajor(version: string): number {
  return Number(/^(\d+)\./.exec(version)?.[1] ?? 0);
}

/** The decision table. Each row says why; the README prints the same table. */
export function chooseHostFlags(facts: EngineFacts): HostFlags {
  return { ...chooseRow(facts), legacyCgroupForce: facts.cgroupVersion === "1" };
}

function chooseRow(facts: EngineFacts): Omit<HostFlags, "legacyCgroupForce"> {
  const apparmorUnconfined = option(facts, "apparmor");
  if (facts.podman) {
    // Podman runs an /sbin/init image in systemd mode by itself and ignores CgroupnsMode.
    return { cgroupns: "private", bindCgroup: false, writableCgroups: false, apparmorUnconfined, row: "Podman", verified: "documented only" };
  }
  if (option(facts, "rootless")) {
    // A rootless engine cannot bind the host's cgroup tree writable; its private cgroupfs is delegated.
    return { cgroupns: "private", bindCgroup: false, writableCgroups: engineMajor(facts.serverVersion) >= 28, apparmorUnconfined, row: "rootless Docker", verified: "documented only" };
  }
  if (facts.cgroupVersion === "2" && engineMajor(facts.serverVersion) >= 28) {
    // moby#48828: a private namespace whose cgroupfs is writable, no host bind at all.
    return { cgroupns: "private", bindCgroup: false, writableCgroups: true, apparmorUnconfined, row: "cgroup v2, Docker ≥ 28", verified: "documented only" };
  }
  if (facts.cgroupVersion === "2") {
    return { cgroupns: "host", bindCgroup: true, writableCgroups: false, apparmorUnconfined, row: "cgroup v2, Docker < 28", verified: "run here (emulated cgroup v2 engine)" };
  }
  return { cgroupns: "host", bindCgroup: true, writableCgroups: false, apparmorUnconfined, row: "cgroup v1", verified: "run here" };
}

/** One line for the start of a run: the host as the engine describes it, and the flags chosen. */
export function describeHostFlags(facts: EngineFacts, flags: HostFlags): string {
  const host = [
    facts.podman ? "Podman" : `Docker ${facts.serverVersion}`,
    `cgroup v${facts.cgroupVersion}`,
    option(facts, "apparmor") ? "AppArmor" : "no AppArmor",
    ...(option(facts, "selinux") ? ["SELinux"] : []),
    ...(option(facts, "rootless") ? ["rootless"] : []),
    ...(option(facts, "userns") ? ["userns-remap"] : []),
  ].join(", ");
  return `${host}: ${flagWords(flags).join(" + ")} (row "${flags.row}", ${flags.verified})`;
}

/** PID 1's argument that lets systemd ≥ 256 boot on a cgroup v1 host. */
export const LEGACY_FORCE = "SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1";

/**
 * What the flags mean for a container that runs systemd as PID 1, in the engine's own terms: one
 * definition for the testbed's servers (SystemdContainer) and the bench's floor (plain API calls).
 */
export function systemdRunSettings(flags: HostFlags): {
  capAdd: string[];
  securityOpt: string[];
  cgroupns: HostFlags["cgroupns"];
  binds: Array<{ source: string; target: string; mode: "rw" }>;
  tmpfs: Record<string, string>;
  /** Set only when init needs arguments; every server image runs /sbin/init (images/*\/Dockerfile). */
  cmd?: string[];
} {
  return {
    capAdd: ["SYS_ADMIN"],
    securityOpt: ["seccomp=unconfined", ...(flags.writableCgroups ? ["writable-cgroups=true"] : []), ...(flags.apparmorUnconfined ? ["apparmor=unconfined"] : [])],
    cgroupns: flags.cgroupns,
    binds: flags.bindCgroup ? [{ source: "/sys/fs/cgroup", target: "/sys/fs/cgroup", mode: "rw" }] : [],
    tmpfs: { "/run": "rw,exec", "/run/lock": "rw", "/tmp": "rw,exec" },
    ...(flags.legacyCgroupForce ? { cmd: ["/sbin/init", LEGACY_FORCE] } : {}),
  };
}

/** The flags in words, as a person would type them to docker run. */
export function flagWords(flags: HostFlags): string[] {
  return [
    "--cap-add SYS_ADMIN",
    "seccomp=unconfined",
    `cgroupns ${flags.cgroupns}`,
    ...(flags.bindCgroup ? ["/sys/fs/cgroup bound rw"] : []),
    ...(flags.writableCgroups ? ["writable-cgroups=true"] : []),
    ...(flags.apparmorUnconfined ? ["apparmor=unconfined"] : []),
    ...(flags.legacyCgroupForce ? [`init ${LEGACY_FORCE}`] : []),
  ];
}

/** What the engine says about itself (two API calls). */
export async function engineFacts(): Promise<EngineFacts> {
  const [info, version] = await Promise.all([docker().info() as Promise<Record<string, unknown>>, docker().version() as Promise<{ Components?: Array<{ Name: string }> }>]);
  return {
    cgroupVersion: String(info.CgroupVersion ?? "1"),
    serverVersion: String(info.ServerVersion ?? ""),
    securityOptions: (info.SecurityOptions as string[] | undefined) ?? [],
    podman: (version.Components ?? []).some((c) => /podman/i.test(c.Name)),
  };
}

let chosen: Promise<{ facts: EngineFacts; flags: HostFlags; line: string }> | undefined;

/**
 * The flags for this engine, read once per process. TESTBED_CGROUPNS=host|private still overrides
 * the namespace (and with it the bind) for a host the table gets wrong.
 */
export function hostFlags(): Promise<{ facts: EngineFacts; flags: HostFlags; line: string }> {
  chosen ??= engineFacts().then((facts) => {
    let flags = chooseHostFlags(facts);
    const override = settings().cgroupns;
    if (override) {
      flags = { ...flags, cgroupns: override, bindCgroup: override === "host", row: `${flags.row}, TESTBED_CGROUPNS=${override}` };
    }
    return { facts, flags, line: describeHostFlags(facts, flags) };
  });
  return chosen;
}

/** What to try when systemd does not boot with the flags the table chose. */
export function bootAdvice(flags: HostFlags): string {
  const other = flags.cgroupns === "host" ? "private" : "host";
  return (
    `Flags tried (row "${flags.row}", ${flags.verified}): ${flagWords(flags).join(", ")}. ` +
    `Try TESTBED_CGROUPNS=${other}; on an AppArmor host without it in the engine's SecurityOptions, apparmor=unconfined; ` +
    `and see the table of hosts in docs/platforms.md.`
  );
}
