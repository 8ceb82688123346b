import { readdirSync, readFileSync } from "node:fs";

/**
 * Where a run's CPU goes, in core-seconds: the whole machine, the engine's containers (the servers'
 * and the jobs' own work: systemd, gunicorn, manage.py, pip, Postgres, sshd, rsync...) and the
 * engine's daemons with the helpers they wait for (dockerd's re-execs at every container start and
 * copy, iptables). What is left is vitest and the harness, runc and the containers' shims, the
 * host's own tools (git, ssh-keygen) and the kernel. On a machine bound by CPU, the containers' and
 * daemons' work divided by the cores is the least wall time any harness could reach for the same
 * specs.
 */
export interface CpuSample {
  /** Busy time of every core since boot (user, nice, system, irq, softirq, steal). */
  busyS: number;
  /** Every container of the engine together; undefined where no cgroup holds them all. */
  containersS: number | undefined;
  /** dockerd and containerd, with the helpers they ran and waited for (re-execs, iptables, docker-proxy). */
  daemonsS: number;
}

export interface CpuSplit {
  totalS: number;
  containersS: number | undefined;
  daemonsS: number;
  /** vitest and the harness, runc and the shims, the host's tools, the kernel. */
  restS: number | undefined;
  /** (containers + daemons) ÷ cores: the wall time of that work alone, every core busy. */
  leastWallS: number | undefined;
}

export type ReadText = (path: string) => string;

/** Linux's USER_HZ: /proc counts CPU time in these ticks. */
const TICKS_PER_S = 100;

/** The machine's busy core-seconds from /proc/stat's first line. */
export function busySeconds(procStat: string): number {
  const line = procStat.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) throw new Error("/proc/stat has no \"cpu \" line");
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / TICKS_PER_S;
}

/**
 * A process's name, its own CPU seconds and those of the children it has waited for, from
 * /proc/<pid>/stat (the name may hold spaces and parentheses).
 */
export function processCpu(stat: string): { comm: string; cpuS: number; childrenS: number } {
  const open = stat.indexOf("(");
  const close = stat.lastIndexOf(")");
  const fields = stat.slice(close + 2).split(" ");
  // Fields 14 to 17 of the file (utime, stime, cutime, cstime) are the 12th to 15th after the name.
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  return { comm: stat.slice(open + 1, close), cpuS: (utime! + stime!) / TICKS_PER_S, childrenS: (cutime! + cstime!) / TICKS_PER_S };
}

/**
 * The parent cgroup of every container, with the cgroupfs driver (v1: cpuacct.usage in ns; v2:
 * cpu.stat's usage_usec). A removed container's time stays counted in its parent. The systemd driver
 * puts containers in system.slice, among the host's services: no figure there.
 */
export function containersSeconds(read: ReadText): number | undefined {
  const tries: Array<[path: string, parse: (text: string) => number]> = [
    ["/sys/fs/cgroup/cpuacct/docker/cpuacct.usage", (t) => Number(t) / 1e9],
    ["/sys/fs/cgroup/cpu,cpuacct/docker/cpuacct.usage", (t) => Number(t) / 1e9],
    ["/sys/fs/cgroup/docker/cpu.stat", (t) => Number(/^usage_usec (\d+)$/m.exec(t)?.[1]) / 1e6],
  ];
  for (const [path, parse] of tries) {
    let text: string;
    try {
      text = read(path);
    } catch {
      continue;
    }
    const s = parse(text.trim());
    if (Number.isFinite(s)) return s;
  }
  return undefined;
}

const DAEMONS = new Set(["dockerd", "containerd"]);

/** A sample of the machine now. */
export function sampleCpu(read: ReadText = (p) => readFileSync(p, "utf8"), pids: () => string[] = () => readdirSync("/proc").filter((n) => /^\d+$/.test(n))): CpuSample {
  let daemonsS = 0;
  for (const pid of pids()) {
    try {
      const p = processCpu(read(`/proc/${pid}/stat`));
      if (DAEMONS.has(p.comm)) daemonsS += p.cpuS + p.childrenS;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return { busyS: busySeconds(read("/proc/stat")), containersS: containersSeconds(read), daemonsS };
}

/** What happened between two samples, on a machine of `cores` cores. */
export function cpuSplit(before: CpuSample, after: CpuSample, cores: number): CpuSplit {
  const round = (s: number) => Math.round(s * 10) / 10;
  const totalS = after.busyS - before.busyS;
  // A daemon that restarted in between counts backwards: it is left out (0), not subtracted.
  const daemonsS = Math.max(0, after.daemonsS - before.daemonsS);
  const containersS = after.containersS !== undefined && before.containersS !== undefined ? after.containersS - before.containersS : undefined;
  return {
    totalS: round(totalS),
    containersS: containersS === undefined ? undefined : round(containersS),
    daemonsS: round(daemonsS),
    restS: containersS === undefined ? undefined : round(totalS - containersS - daemonsS),
    leastWallS: containersS === undefined ? undefined : round((containersS + daemonsS) / cores),
  };
}
