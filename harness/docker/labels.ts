import { hostname } from "node:os";
import { waitFor } from "../plumbing/deadline.ts";
import { docker } from "./client.ts";
import { processAlive } from "../plumbing/process.ts";
import { settings } from "../plumbing/settings.ts";

/** Every container, network and volume the project creates carries these labels. */
export const LABEL = {
  project: "io.django-deploy-testbed",
  testbed: "io.django-deploy-testbed.testbed",
  kind: "io.django-deploy-testbed.kind",
  created: "io.django-deploy-testbed.created",
  owner: "io.django-deploy-testbed.owner",
  keep: "io.django-deploy-testbed.keep",
} as const;

/** What made it: a spec's testbed, a sandbox, a pipeline job, the bench, preflight's evaluation of a project, or a team's gate. */
export type ResourceKind = "test" | "sandbox" | "job" | "bench" | "preflight" | "gate";

export interface Owner {
  host: string;
  pid: number;
}

/**
 * The process that owns what a run creates. A test run's workers share the main process's pid
 * (TESTBED_OWNER_PID), so a sweep can tell a live run's testbeds from a killed one's.
 */
export function ownerLabel(owner: Owner = { host: hostname(), pid: settings().ownerPid }): string {
  return `${owner.host}:${owner.pid}`;
}

export function labelsFor(testbedId: string, kind: ResourceKind, extra: Record<string, string> = {}): Record<string, string> {
  return {
    [LABEL.project]: "true",
    [LABEL.testbed]: testbedId,
    [LABEL.kind]: kind,
    [LABEL.created]: String(Date.now()),
    [LABEL.owner]: ownerLabel(),
    ...extra,
  };
}

// The one liveness check lives with the leaves (the lock needs it too); owners are judged by it here.
export { processAlive };

/** Made by `owner`: by default, this run (see ownerLabel). */
export function isOwnedBy(labels: Record<string, string>, owner = ownerLabel()): boolean {
  return labels[LABEL.owner] === owner;
}

/** Left running on purpose (TESTBED_KEEP, sandbox --keep): only `npm run clean` or `sandbox down` removes it. */
export function isKept(labels: Record<string, string>): boolean {
  return (labels[LABEL.keep] ?? "never") !== "never";
}

/** A resource is abandoned when the process that made it is gone (and it was not kept on purpose). */
export function isAbandoned(labels: Record<string, string>, now = Date.now()): boolean {
  if (isKept(labels)) return false;
  const [host, pidText] = (labels[LABEL.owner] ?? "").split(":");
  const created = Number(labels[LABEL.created] ?? 0);
  if (host !== hostname()) return created < now - 6 * 3600_000; // another machine's run: only when clearly stale
  return !processAlive(Number(pidText));
}

export interface Selector {
  testbed?: string;
  kinds?: ResourceKind[];
  /** Extra predicate on the resource's labels, e.g. isAbandoned. */
  where?: (labels: Record<string, string>) => boolean;
}

export interface RemovalReport {
  containers: string[];
  networks: string[];
  volumes: string[];
}

export interface SweepReport extends RemovalReport {
  /** The testbeds whose resources were removed. */
  testbeds: string[];
}

/** Removes containers, then networks and volumes, carrying the project's labels and matching the selector. */
export async function removeLabelled(sel: Selector): Promise<SweepReport> {
  const d = docker();
  const filter = [`${LABEL.project}=true`, ...(sel.testbed ? [`${LABEL.testbed}=${sel.testbed}`] : [])];
  const matches = (labels: Record<string, string> | null | undefined) => {
    const l = labels ?? {};
    if (sel.kinds && !sel.kinds.includes(l[LABEL.kind] as ResourceKind)) return false;
    return sel.where ? sel.where(l) : true;
  };
  const report: SweepReport = { containers: [], networks: [], volumes: [], testbeds: [] };
  const testbeds = new Set<string>();
  const note = (labels: Record<string, string> | null | undefined) => labels?.[LABEL.testbed] && testbeds.add(labels[LABEL.testbed]!);
  const containers = await d.listContainers({ all: true, filters: { label: filter } });
  await Promise.all(
    containers.filter((c) => matches(c.Labels)).map(async (c) => {
      note(c.Labels);
      await ignoreMissing(() => d.getContainer(c.Id).remove({ force: true, v: true }));
      report.containers.push(c.Names[0]?.replace(/^\//, "") ?? c.Id);
    }),
  );
  const networks = await d.listNetworks({ filters: { label: filter } });
  for (const n of networks.filter((n) => matches(n.Labels))) {
    note(n.Labels);
    // A container removed a moment ago may still hold an endpoint: retry "in use" briefly.
    await waitFor(`network ${n.Name}: still in use`, async () => {
      try {
        await ignoreMissing(() => d.getNetwork(n.Id).remove(), [404]);
        return true;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 403 || (err as { statusCode?: number }).statusCode === 409) return undefined;
        throw err;
      }
    }, { timeoutMs: 10_000 });
    report.networks.push(n.Name);
  }
  const { Volumes } = await d.listVolumes({ filters: { label: filter } });
  for (const v of (Volumes ?? []).filter((v) => matches(v.Labels))) {
    note(v.Labels);
    await ignoreMissing(() => d.getVolume(v.Name).remove());
    report.volumes.push(v.Name);
  }
  report.testbeds = [...testbeds];
  return report;
}

export async function listLabelled(testbed: string): Promise<RemovalReport> {
  const d = docker();
  const filter = { label: [`${LABEL.project}=true`, `${LABEL.testbed}=${testbed}`] };
  const [c, n, v] = await Promise.all([
    d.listContainers({ all: true, filters: filter }),
    d.listNetworks({ filters: filter }),
    d.listVolumes({ filters: filter }),
  ]);
  return {
    containers: c.map((x) => x.Id),
    networks: n.map((x) => x.Id),
    volumes: (v.Volumes ?? []).map((x) => x.Name),
  };
}

async function ignoreMissing(op: () => Promise<unknown>, codes = [404, 409]): Promise<void> {
  try {
    await op();
  } catch (err) {
    // Already gone, or being removed by a concurrent sweep: the goal is reached either way.
    if (!codes.includes((err as { statusCode?: number }).statusCode ?? 0)) throw err;
  }
}
