import { readdir, rm, stat } from "node:fs/promises";
import { docker } from "../docker/client.ts";
import { LABEL, removeLabelled, type Selector, type SweepReport } from "../docker/labels.ts";
import { cacheDir } from "../plumbing/paths.ts";

/**
 * Removes testbeds' containers, networks and volumes by label, and their key directories (a named
 * testbed's too when nothing of it reached the engine, e.g. a start that failed early).
 */
export async function removeTestbeds(sel: Selector): Promise<SweepReport> {
  const report = await removeLabelled(sel);
  const ids = new Set([...report.testbeds, ...(sel.testbed ? [sel.testbed] : [])]);
  await Promise.all([...ids].map((id) => rm(cacheDir("testbeds", id), { recursive: true, force: true })));
  return report;
}

/**
 * Key directories whose testbed has no container or network left (its run was killed before it
 * could clean up). Young ones are left alone: a testbed being started right now has its keys first.
 */
export async function removeOrphanKeyDirs(minAgeMs = 10 * 60_000): Promise<string[]> {
  const root = cacheDir("testbeds");
  const names = await readdir(root).catch(() => [] as string[]);
  if (!names.length) return [];
  const filter = { label: [`${LABEL.project}=true`] };
  const [containers, networks] = await Promise.all([docker().listContainers({ all: true, filters: filter }), docker().listNetworks({ filters: filter })]);
  const live = new Set([...containers.map((c) => c.Labels?.[LABEL.testbed]), ...networks.map((n) => n.Labels?.[LABEL.testbed])]);
  const removed: string[] = [];
  for (const name of names.filter((n) => !live.has(n))) {
    const s = await stat(`${root}/${name}`).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > minAgeMs) {
      await rm(`${root}/${name}`, { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}
