import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { docker } from "../docker/client.ts";
import { labelsFor, LABEL, type ResourceKind } from "../docker/labels.ts";
import { removeTestbeds } from "./cleanup.ts";
import { environments, DEFAULT_CONFIG, type DeploymentConfig, type Environment } from "../domain/envs.ts";
import { NO_HOOKS, type Hooks } from "../domain/hooks.ts";
import { imageExists } from "../images/build.ts";
import { ensureImages, type ImageSet } from "../images/catalog.ts";
import { endOfLife, type KeepPolicy } from "../lifecycle/keep.ts";
import { formatDuration, silentLogger, type Logger } from "../plumbing/log.ts";
import { cacheDir } from "../plumbing/paths.ts";
import { DockerExecRunner } from "../shell/exec-runner.ts";
import { makeKey, type KeyPair } from "./keys.ts";
import { Server, SERVER_ALIASES, type ServerRole } from "./server.ts";
import { SystemdContainer, waitForSystemd } from "./systemd-container.ts";
import { connectHost } from "../docker/engine-address.ts";
import { bootAdvice, hostFlags, type HostFlags } from "../docker/container-flags.ts";

export class TestbedStartError extends Error {
  override name = "TestbedStartError";
  constructor(message: string, readonly testbedId?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Configures a testbed: two systemd servers on a private network. `start()` gives a StartedTestbed. */
export class Testbed {
  private kind: ResourceKind = "test";
  private log: Logger = silentLogger;
  private base: string | undefined;
  private images: Partial<ImageSet> = {};
  private config: DeploymentConfig = DEFAULT_CONFIG;
  private bootTimeoutMs = 60_000;
  private keep: KeepPolicy = "never";
  private hooks: Hooks = NO_HOOKS;

  withKind(kind: ResourceKind): this { this.kind = kind; return this; }
  withLogger(log: Logger): this { this.log = log; return this; }
  /** `debootstrap` (default) or a base image reference such as `ubuntu:24.04`. */
  withBase(base: string): this { this.base = base; return this; }
  /** Overrides an image reference, e.g. a provisioned snapshot. */
  withImage(role: keyof ImageSet, ref: string): this { this.images = { ...this.images, [role]: ref }; return this; }
  withImages(images: Partial<ImageSet>): this { this.images = { ...this.images, ...images }; return this; }
  withDeployment(config: Partial<DeploymentConfig>): this { this.config = { ...this.config, ...config }; return this; }
  withBootTimeout(ms: number): this { this.bootTimeoutMs = ms; return this; }
  withKeep(policy: KeepPolicy): this { this.keep = policy; return this; }
  /** Changes the recipe and the pipeline make on this testbed (harness/domain/hooks.ts): a fault run's. */
  withHooks(hooks: Hooks): this { this.hooks = hooks; return this; }

  async start(): Promise<StartedTestbed> {
    const envs = environments(this.config);
    const id = `ddt-${this.kind}-${randomBytes(3).toString("hex")}`;
    const labels = labelsFor(id, this.kind, { [LABEL.keep]: this.keep });
    const keyDir = cacheDir("testbeds", id);
    const started = Date.now();
    try {
      const images = isComplete(this.images) ? this.images : { ...(await ensureImages({ base: this.base, log: this.log })), ...this.images };
      const host = await hostFlags();
      this.log.info(`testbed ${id}: starting`);
      await mkdir(keyDir, { recursive: true, mode: 0o700 });
      const admin = await makeKey(keyDir, "admin", `admin@${id}`);
      const network = `${id}-net`;
      await docker().createNetwork({ Name: network, Labels: labels, CheckDuplicate: true });
      const serverPorts: Record<ServerRole, number[]> = { app: [22, ...envs.map((e) => e.port)], db: [22, 5432] };
      const imageOf: Record<ServerRole, string> = { app: images.appserver, db: images.dbserver };
      // allSettled, not all: a failure must not leave the other server still being created
      // while the cleanup below runs.
      const settled = await Promise.allSettled(
        (["app", "db"] as const).map((role) =>
          startServer({ id, role, image: imageOf[role], labels, network, ports: serverPorts[role], admin, bootTimeoutMs: this.bootTimeoutMs, flags: host.flags }),
        ),
      );
      const failure = settled.find((r) => r.status === "rejected");
      if (failure) throw failure.reason;
      const [app, db] = settled.map((r) => (r as PromiseFulfilledResult<Server>).value);
      // For the ssh commands this testbed prints: each server's own key, checked, never skipped.
      await writeFile(
        join(keyDir, "known_hosts"),
        [app!, db!].map((s) => `[${connectHost()}]:${s.mappedPort(22)} ${s.hostKey.split(/\s+/).slice(0, 2).join(" ")}\n`).join(""),
      );
      const record: TestbedRecord = { config: this.config, images, network, keep: this.keep, ports: serverPorts };
      await writeFile(join(keyDir, TESTBED_RECORD), JSON.stringify(record, null, 2));
      this.log.info(`testbed ${id}: both servers running in ${formatDuration(Date.now() - started)}`);
      return new StartedTestbed({ id, network, images, config: this.config, envs, app: app!, db: db!, adminKey: admin, keyDir, keep: this.keep, log: this.log, hooks: this.hooks });
    } catch (err) {
      await removeTestbeds({ testbed: id }).catch(() => undefined);
      const message = (err as Error).message;
      throw new TestbedStartError(
        `testbed ${id}: start failed after ${formatDuration(Date.now() - started)}: ${message}\n` +
          `Everything it had created was removed. Check the image references and that the engine answers, then run again.`,
        id,
        { cause: err },
      );
    }
  }
}

/** One systemd server: created on the testbed's network, booted to `running`, its host key read. */
async function startServer(a: {
  id: string;
  role: ServerRole;
  image: string;
  labels: Record<string, string>;
  network: string;
  ports: number[];
  admin: KeyPair;
  bootTimeoutMs: number;
  flags: HostFlags;
}): Promise<Server> {
  const alias = SERVER_ALIASES[a.role];
  const where = `${alias} (${a.role === "app" ? "app server" : "database server"})`;
  // Checked here so a wrong reference never turns into a registry pull.
  if (!(await imageExists(a.image))) {
    throw new TestbedStartError(`${where}: image ${a.image} is not on this engine (run 'npm run images' to build the project's images)`, a.id);
  }
  const c = await new SystemdContainer(a.image, a.flags)
    .withName(`${a.id}-${a.role}`)
    .withHostname(alias)
    .withLabels(a.labels)
    .withOnlyNetwork(a.network, [alias])
    .withExposedPorts(...a.ports)
    .withCopyContentToContainer([{ content: a.admin.public + "\n", target: "/root/.ssh/authorized_keys", mode: 0o600 }])
    .start();
  const boot = await waitForSystemd(c.getId(), where, a.bootTimeoutMs).catch((err: Error) => {
    throw new TestbedStartError(`${err.message}\n${bootAdvice(a.flags)}`, a.id, { cause: err });
  });
  if (boot.state !== "running") {
    throw new TestbedStartError(`${where}: systemd is ${boot.state}, not running; failed units:\n${boot.failed}\n${bootAdvice(a.flags)}`, a.id);
  }
  const hostKey = await readHostKey(new DockerExecRunner(c.getId(), `${where} (docker exec)`));
  // Every ssh connection checks this key: an empty or garbled read would fail them all later.
  if (!/^ssh-ed25519 [A-Za-z0-9+/=]+/.test(hostKey)) {
    throw new TestbedStartError(`${where}: cannot read its ssh host key (got "${hostKey.slice(0, 80)}")`, a.id);
  }
  const ports = new Map(a.ports.map((p) => [p, c.getMappedPort(p)]));
  return new Server(a.role, c.getId(), alias, ports, hostKey, a.admin.private);
}

/** The server's ed25519 host key, made at its first boot; every ssh connection checks it. */
export async function readHostKey(exec: DockerExecRunner): Promise<string> {
  return (await exec.run("cat /etc/ssh/ssh_host_ed25519_key.pub")).stdout.trim();
}

function isComplete(images: Partial<ImageSet>): images is ImageSet {
  return Boolean(images.base && images.appserver && images.dbserver && images.runner);
}

export interface StartedTestbedParts {
  id: string;
  network: string;
  images: ImageSet;
  config: DeploymentConfig;
  envs: Environment[];
  app: Server;
  db: Server;
  adminKey: KeyPair;
  keyDir: string;
  keep: KeepPolicy;
  log: Logger;
  /** NO_HOOKS when absent (a testbed attached to from another process). */
  hooks?: Hooks;
}

/** What another process needs to attach to a running testbed (the sandbox's deploy and rollback). */
export interface TestbedRecord {
  config: DeploymentConfig;
  images: ImageSet;
  network: string;
  keep: KeepPolicy;
  ports: Record<ServerRole, number[]>;
}

export const TESTBED_RECORD = "testbed.json";

export class StartedTestbed implements AsyncDisposable {
  private failed = false;
  private stopped = false;

  readonly id: string;
  readonly network: string;
  readonly images: ImageSet;
  readonly config: DeploymentConfig;
  readonly envs: Environment[];
  readonly app: Server;
  readonly db: Server;
  readonly adminKey: KeyPair;
  /** This testbed's keys and its record (testbed.json), removed with it. */
  readonly keyDir: string;
  readonly keep: KeepPolicy;
  readonly log: Logger;
  /** What the recipe and the pipeline change on this testbed: NO_HOOKS but in a fault run. */
  readonly hooks: Hooks;

  constructor(p: StartedTestbedParts) {
    ({ id: this.id, network: this.network, images: this.images, config: this.config, envs: this.envs, app: this.app, db: this.db } = p);
    ({ adminKey: this.adminKey, keyDir: this.keyDir, keep: this.keep, log: this.log } = p);
    this.hooks = p.hooks ?? NO_HOOKS;
  }

  server(role: ServerRole): Server {
    return role === "app" ? this.app : this.db;
  }

  env(name: Environment["name"]): Environment {
    return this.envs.find((e) => e.name === name)!;
  }

  /** The loopback URL of an environment's nginx site. */
  url(name: Environment["name"], path = "/"): string {
    return `http://${connectHost()}:${this.app.mappedPort(this.env(name).port)}${path}`;
  }

  /** Another key pair kept with this testbed (e.g. the CI deploy key). */
  newKey(name: string): Promise<KeyPair> {
    return makeKey(this.keyDir, name, `${name}@${this.id}`);
  }

  markFailed(): void {
    this.failed = true;
  }

  /** Removes every container, network and volume of this testbed, whatever the keep policy. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const started = Date.now();
    await removeTestbeds({ testbed: this.id });
    this.log.info(`testbed ${this.id}: removed in ${formatDuration(Date.now() - started)}`);
  }

  /** The servers' host keys, as ssh's UserKnownHostsFile reads them. */
  get knownHostsPath(): string {
    return join(this.keyDir, "known_hosts");
  }

  /** An ssh command line that logs in to a server, checking its host key. */
  sshCommand(server: Server, user = "root", key = this.adminKey.path): string {
    return `ssh -i ${key} -o UserKnownHostsFile=${this.knownHostsPath} -p ${server.mappedPort(22)} ${user}@${connectHost()}`;
  }

  /** How to get in and how to remove it, for a testbed left running. */
  howTo(): string {
    return [
      `testbed ${this.id} is still running:`,
      `  app server: ${this.sshCommand(this.app)}`,
      `  db server:  ${this.sshCommand(this.db)}`,
      `  remove it:  npm run clean -- --testbed ${this.id}`,
    ].join("\n");
  }

  /** Ends the testbed's life as the keep policy says: removed, or left running with directions. */
  async [Symbol.asyncDispose](): Promise<void> {
    await endOfLife(this.keep, this.failed, { kept: () => this.log.info(this.howTo()), remove: () => this.stop() });
  }
}
