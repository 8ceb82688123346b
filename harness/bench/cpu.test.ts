import { describe, expect, it } from "vitest";
import { busySeconds, containersSeconds, cpuSplit, processCpu, sampleCpu } from "./cpu.ts";

const PROC_STAT = "cpu  3005563 10 1655079 2680126 91510 7 42475 2879 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2\n";

describe("CPU accounting for the bench", () => {
  it("counts busy time from /proc/stat: user, nice, system, irq, softirq and steal, not idle or iowait", () => {
    expect(busySeconds(PROC_STAT)).toBeCloseTo((3005563 + 10 + 1655079 + 7 + 42475 + 2879) / 100, 6);
    expect(() => busySeconds("intr 1 2\n")).toThrow(/no "cpu " line/);
  });

  it("reads a process's CPU after its name, even a name with spaces and parentheses", () => {
    // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime.
    const stat = "4242 (my (odd) daemon) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 566 300 50 20 0 12 0";
    expect(processCpu(stat)).toEqual({ comm: "my (odd) daemon", cpuS: 18, childrenS: 3.5 });
  });

  it("finds the containers' parent cgroup of v1 and v2, and none for the systemd driver", () => {
    const files = (map: Record<string, string>) => (p: string) => {
      if (!(p in map)) throw new Error(`ENOENT ${p}`);
      return map[p]!;
    };
    expect(containersSeconds(files({ "/sys/fs/cgroup/cpuacct/docker/cpuacct.usage": "85398000000\n" }))).toBeCloseTo(85.398, 6);
    expect(containersSeconds(files({ "/sys/fs/cgroup/docker/cpu.stat": "usage_usec 12500000\nuser_usec 10000000\nsystem_usec 2500000\n" }))).toBeCloseTo(12.5, 6);
    expect(containersSeconds(files({ "/sys/fs/cgroup/system.slice/cpu.stat": "usage_usec 1\n" }))).toBeUndefined();
  });

  it("samples the daemons by name, with the children they waited for, and splits a run: containers, daemons, the rest, and the least wall time", () => {
    const at = (busy: number, cg: number, dockerd: number) => (p: string) =>
      ({
        "/proc/stat": `cpu  ${busy * 100} 0 0 0 0 0 0 0 0 0\n`,
        "/sys/fs/cgroup/cpuacct/docker/cpuacct.usage": String(cg * 1e9),
        "/proc/10/stat": `10 (dockerd) S 1 10 10 0 -1 0 0 0 0 0 ${dockerd * 50} 0 ${dockerd * 50} 0 20`,
        "/proc/11/stat": "11 (node) S 1 11 11 0 -1 0 0 0 0 0 999 0 0 0 20",
      })[p] ?? (() => { throw new Error(`ENOENT ${p}`); })();
    const pids = () => ["10", "11", "12"];
    const before = sampleCpu(at(1000, 500, 20), pids);
    expect(before).toEqual({ busyS: 1000, containersS: 500, daemonsS: 20 });
    const split = cpuSplit(before, sampleCpu(at(1158, 585.4, 30.4), pids), 2);
    expect(split).toEqual({ totalS: 158, containersS: 85.4, daemonsS: 10.4, restS: 62.2, leastWallS: 47.9 });
    // No cgroup for the containers: only the total and the daemons are known.
    expect(cpuSplit({ busyS: 0, containersS: undefined, daemonsS: 0 }, { busyS: 10, containersS: undefined, daemonsS: 1 }, 2)).toEqual({ totalS: 10, containersS: undefined, daemonsS: 1, restS: undefined, leastWallS: undefined });
  });
});
