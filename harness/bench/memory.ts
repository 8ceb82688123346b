import { existsSync, readFileSync } from "node:fs";

/**
 * A container's peak memory, from its cgroup (docker stats shows 0 B for systemd containers with
 * nested cgroups on cgroup v1). Tries the v1 and v2 layouts of the cgroupfs and systemd drivers.
 */
export function peakMemoryBytes(containerId: string): number | undefined {
  const candidates = [
    `/sys/fs/cgroup/memory/docker/${containerId}/memory.max_usage_in_bytes`,
    `/sys/fs/cgroup/memory/system.slice/docker-${containerId}.scope/memory.max_usage_in_bytes`,
    `/sys/fs/cgroup/docker/${containerId}/memory.peak`,
    `/sys/fs/cgroup/system.slice/docker-${containerId}.scope/memory.peak`,
  ];
  for (const path of candidates) {
    if (existsSync(path)) return Number(readFileSync(path, "utf8").trim());
  }
  return undefined;
}
