import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import Docker from "dockerode";
import { waitFor } from "../plumbing/deadline.ts";
import { docker } from "./client.ts";
import { EngineError } from "./engine-install.ts";
import { formatDuration, type Logger } from "../plumbing/log.ts";
import { processAlive } from "../plumbing/process.ts";

/**
 * A second Docker engine that reports cgroup v2, on a cgroup v1 host like this one: dockerd (and the
 * containerd it starts) in a private mount namespace where the unified hierarchy is mounted at
 * /sys/fs/cgroup. Everything of it is its own, so it never touches the first engine: its bridge and
 * address pool, data root, exec root, pid file and socket (a shared `--bridge none` once deleted
 * the first engine's docker0). No iptables rules: its containers need no NAT, and its published
 * ports go through docker-proxy.
 */
export const CGROUP2_ENGINE = {
  socket: "/run/ddt-cgroup2/docker.sock",
  execRoot: "/run/ddt-cgroup2/exec",
  pidFile: "/run/ddt-cgroup2/dockerd.pid",
  /** Kept between runs, so its images are built or loaded once. `npm run clean -- --images` removes it. */
  dataRoot: "/var/lib/django-deploy-testbed-cgroup2",
  bridge: "ddt-cg2",
  bridgeAddress: "10.213.0.1/24",
  addressPool: "base=10.214.0.0/16,size=24",
  log: "/var/log/django-deploy-testbed-cgroup2.log",
} as const;

/** Traffic between this engine's testbed networks (its address pool), allowed through FORWARD. */
const FORWARD_RULE = ["FORWARD", "-s", "10.214.0.0/16", "-d", "10.214.0.0/16", "-j", "ACCEPT", "-m", "comment", "--comment", "django-deploy-testbed cgroup2 engine"];

export const cgroup2DockerHost = () => `unix://${CGROUP2_ENGINE.socket}`;

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

function preconditions(): string | undefined {
  if (process.platform !== "linux") return `this is ${process.platform}; the emulation needs Linux`;
  if (process.getuid?.() !== 0) return "it needs root (a mount namespace, a bridge, a dockerd)";
  for (const bin of ["/usr/bin/unshare", "/usr/sbin/dockerd", "/usr/sbin/ip"]) if (!existsSync(bin)) return `${bin} is missing`;
  if (!readFileSync("/proc/filesystems", "utf8").includes("cgroup2")) return "this kernel has no cgroup2 filesystem";
  return undefined;
}

const enginePid = () => (existsSync(CGROUP2_ENGINE.pidFile) ? Number(readFileSync(CGROUP2_ENGINE.pidFile, "utf8").trim()) : 0);

/** Starts the cgroup v2 engine (or finds it running) and returns its DOCKER_HOST. */
export async function startCgroup2Engine(log: Logger): Promise<string> {
  const missing = preconditions();
  if (missing) throw new EngineError(`cgroup v2 engine: cannot start: ${missing}. On a cgroup v2 host, plain \`npm test\` already runs on one.`);
  const client = new Docker({ socketPath: CGROUP2_ENGINE.socket });
  const answers = () => client.ping().then(() => true, () => false);
  if (processAlive(enginePid()) && (await answers())) return cgroup2DockerHost();

  if (!run("ip", ["link", "show", CGROUP2_ENGINE.bridge]).ok) {
    for (const args of [["link", "add", CGROUP2_ENGINE.bridge, "type", "bridge"], ["addr", "add", CGROUP2_ENGINE.bridgeAddress, "dev", CGROUP2_ENGINE.bridge], ["link", "set", CGROUP2_ENGINE.bridge, "up"]]) {
      const r = run("ip", args);
      if (!r.ok) throw new EngineError(`cgroup v2 engine: ip ${args.join(" ")} failed: ${r.out}`);
    }
  }
  // The first engine set FORWARD's policy to DROP, and bridged traffic passes through it
  // (br_netfilter): let this engine's networks reach each other, as its own iptables would have.
  if (!run("iptables", ["-C", ...FORWARD_RULE]).ok) {
    const r = run("iptables", ["-I", ...FORWARD_RULE]);
    if (!r.ok) throw new EngineError(`cgroup v2 engine: iptables -I ${FORWARD_RULE.join(" ")} failed: ${r.out}`);
  }
  const dockerd = [
    "/usr/sbin/dockerd",
    `--host=unix://${CGROUP2_ENGINE.socket}`,
    `--data-root=${CGROUP2_ENGINE.dataRoot}`,
    `--exec-root=${CGROUP2_ENGINE.execRoot}`,
    `--pidfile=${CGROUP2_ENGINE.pidFile}`,
    `--bridge=${CGROUP2_ENGINE.bridge}`,
    `--default-address-pool=${CGROUP2_ENGINE.addressPool}`,
    "--iptables=false",
    "--ip-masq=false",
  ];
  // The mount is private to this namespace: the host, and the first engine, keep their cgroup v1.
  const script = `mkdir -p /run/ddt-cgroup2 && mount -t cgroup2 none /sys/fs/cgroup && exec ${dockerd.join(" ")}`;
  const out = openSync(CGROUP2_ENGINE.log, "a");
  log.info(`cgroup v2 engine: starting dockerd in a private mount namespace (log: ${CGROUP2_ENGINE.log})`);
  const started = Date.now();
  const child = spawn("/usr/bin/unshare", ["--mount", "--propagation", "private", "sh", "-c", script], { detached: true, stdio: ["ignore", out, out] });
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  child.unref();
  const firstBridge = await defaultBridge();
  await waitFor(
    "cgroup v2 engine: dockerd did not answer",
    async () => {
      if (exited !== undefined) throw new EngineError(`cgroup v2 engine: dockerd exited (${exited}); the end of ${CGROUP2_ENGINE.log}:\n${tail(CGROUP2_ENGINE.log)}`);
      return (await answers()) ? true : undefined;
    },
    { timeoutMs: 30_000, describe: (e) => (e instanceof EngineError ? e.message : `see ${CGROUP2_ENGINE.log}`) },
  );
  await restoreBridge(firstBridge, log);
  const info = (await client.info()) as { CgroupVersion?: string };
  if (info.CgroupVersion !== "2") {
    await stopCgroup2Engine(log);
    throw new EngineError(`cgroup v2 engine: it reports cgroup v${info.CgroupVersion}, not 2; stopped it again`);
  }
  log.info(`cgroup v2 engine: answering on ${cgroup2DockerHost()} after ${formatDuration(Date.now() - started)} (cgroup v2)`);
  return cgroup2DockerHost();
}

/** The first engine's default bridge (docker0), as its own API describes it. */
async function defaultBridge(): Promise<{ name: string; address: string } | undefined> {
  const net = (await docker().getNetwork("bridge").inspect().catch(() => undefined)) as
    | { Options?: Record<string, string>; IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> } }
    | undefined;
  const config = net?.IPAM?.Config?.[0];
  if (!net || !config?.Subnet) return undefined;
  // Docker 20.10 leaves the default bridge's gateway out of its IPAM config: it is the subnet's first address.
  const gateway = config.Gateway ?? firstAddress(config.Subnet);
  if (!gateway) return undefined;
  return { name: net.Options?.["com.docker.network.bridge.name"] ?? "docker0", address: `${gateway}/${config.Subnet.split("/")[1]}` };
}

/** The first host address of an IPv4 subnet ("172.17.0.0/16" → "172.17.0.1"); undefined for another kind. */
export function firstAddress(subnet: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet);
  if (!m) return undefined;
  const bits = Number(m[5]);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  const network = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) & mask;
  const first = (network + 1) >>> 0;
  return [24, 16, 8, 0].map((shift) => (first >>> shift) & 255).join(".");
}

/**
 * A second dockerd deletes the first one's docker0 when it starts (measured: with `--bridge none`,
 * and with a bridge of its own), and the first engine's builds then fail with "could not find bridge
 * docker0". Put it back as the first engine had it.
 */
async function restoreBridge(bridge: { name: string; address: string } | undefined, log: Logger): Promise<void> {
  if (!bridge || run("ip", ["link", "show", bridge.name]).ok) return;
  for (const args of [["link", "add", bridge.name, "type", "bridge"], ["addr", "add", bridge.address, "dev", bridge.name], ["link", "set", bridge.name, "up"]]) {
    const r = run("ip", args);
    if (!r.ok) throw new EngineError(`cgroup v2 engine: restoring the first engine's ${bridge.name} failed at ip ${args.join(" ")}: ${r.out}. Restart the first dockerd to get it back.`);
  }
  log.info(`cgroup v2 engine: restored the first engine's ${bridge.name} (${bridge.address}), which a second dockerd removes`);
}

function tail(path: string, lines = 15): string {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").slice(-lines).join("\n") : "(no log)";
}

/**
 * Stops the engine and removes its bridge; its data root (images) stays for the next run. The first
 * engine's docker0 is put back if the second one's stop took it (measured: after one `.ci/run`, the
 * next run's image builds failed with "could not find bridge docker0" until dockerd restarted).
 */
export async function stopCgroup2Engine(log: Logger): Promise<void> {
  const firstBridge = await defaultBridge().catch(() => undefined);
  const pid = enginePid();
  if (pid && processAlive(pid)) {
    process.kill(pid, "SIGTERM");
    await waitFor("cgroup v2 engine: dockerd did not stop", async () => (processAlive(pid) ? undefined : true), { timeoutMs: 30_000 });
    log.info("cgroup v2 engine: stopped");
  }
  if (run("ip", ["link", "show", CGROUP2_ENGINE.bridge]).ok) run("ip", ["link", "delete", CGROUP2_ENGINE.bridge]);
  while (run("iptables", ["-C", ...FORWARD_RULE]).ok) run("iptables", ["-D", ...FORWARD_RULE]);
  await rm("/run/ddt-cgroup2", { recursive: true, force: true });
  await restoreBridge(firstBridge, log);
}

/**
 * Copies images from the first engine (docker save) into the cgroup v2 one (docker load), unless it
 * has the very same image (by id: a tag built there from another base would make other refs).
 */
export async function copyImages(refs: string[], log: Logger): Promise<void> {
  const target = new Docker({ socketPath: CGROUP2_ENGINE.socket });
  for (const ref of refs) {
    const want = (await docker().getImage(ref).inspect()).Id;
    if ((await target.getImage(ref).inspect().then((i) => i.Id, () => undefined)) === want) continue;
    const started = Date.now();
    const tar = await docker().getImage(ref).get();
    const loading = await target.loadImage(tar, { quiet: true });
    await new Promise<void>((resolve, reject) => target.modem.followProgress(loading, (err) => (err ? reject(err) : resolve())));
    log.info(`cgroup v2 engine: loaded ${ref} in ${formatDuration(Date.now() - started)}`);
  }
}
