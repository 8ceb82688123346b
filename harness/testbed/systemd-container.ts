import { GenericContainer, type WaitStrategy } from "testcontainers";
import { DockerExecRunner } from "../shell/exec-runner.ts";
import { waitFor } from "../plumbing/deadline.ts";
import { publishHostIp } from "../docker/engine-address.ts";
import { systemdRunSettings, type HostFlags } from "../docker/container-flags.ts";

/** Readiness is judged by the caller (waitForSystemd, a job's exec), not by a port: sites come later. */
export class StartedWhenRunning implements WaitStrategy {
  private timeoutMs = 60_000;
  async waitUntilReady(): Promise<void> {}
  withStartupTimeout(ms: number): this {
    this.timeoutMs = ms;
    return this;
  }
  isStartupTimeoutSet(): boolean {
    return true;
  }
  getStartupTimeout(): number {
    return this.timeoutMs;
  }
}

/**
 * A container that runs systemd as PID 1 with the least this engine needs (no --privileged, the
 * flags from the host table in harness/docker/container-flags.ts), and publishes its ports on loopback only.
 */
export class SystemdContainer extends GenericContainer {
  constructor(image: string, flags: HostFlags) {
    super(image);
    const run = systemdRunSettings(flags);
    this.withAddedCapabilities(...run.capAdd)
      .withSecurityOpt(...run.securityOpt)
      .withTmpFs(run.tmpfs)
      .withWaitStrategy(new StartedWhenRunning());
    this.withBindMounts(run.binds);
    if (run.cmd) this.withCommand(run.cmd);
    // testcontainers has no setter for it; the engine's API has the field.
    (this.hostConfig as { CgroupnsMode?: string }).CgroupnsMode = run.cgroupns;
  }

  /** Joins only the testbed's own network, under the given aliases (not the default bridge too). */
  withOnlyNetwork(network: string, aliases: string[]): this {
    this.withNetworkMode(network);
    this.createOpts.NetworkingConfig = { EndpointsConfig: { [network]: { Aliases: aliases } } };
    return this;
  }

  protected override async beforeContainerCreated(): Promise<void> {
    // testcontainers publishes on 0.0.0.0; this testbed is for this machine only.
    for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}) as Array<Array<{ HostIp?: string }>>) {
      for (const b of bindings) b.HostIp = publishHostIp();
    }
  }
}

export interface SystemState {
  state: string;
  failed: string;
}

/**
 * Waits until `systemctl is-system-running` settles. Right after start the bus may not answer
 * yet ("Failed to connect to bus"), so errors are retried until the deadline. Once it answers,
 * `--wait` blocks until the boot is over: one exec per boot, not one per poll (an exec costs about
 * 40 ms of the engine's CPU; polling made about six per server). Each call is bounded, and one that
 * runs out reports the state at that moment.
 */
export async function waitForSystemd(containerId: string, what: string, timeoutMs: number): Promise<SystemState> {
  const exec = new DockerExecRunner(containerId, `${what} (docker exec)`);
  let last = "no answer";
  const settled = await waitFor(
    `${what}: systemd did not finish booting`,
    async () => {
      const r = await exec.run("timeout 10 systemctl is-system-running --wait || { [ $? = 124 ] && systemctl is-system-running; }", { allowFailure: true });
      last = r.output.trim();
      return ["running", "degraded", "maintenance", "stopping"].includes(last) ? last : undefined;
    },
    { timeoutMs, describe: () => `last state: ${last}` },
  );
  const failed = settled === "running" ? "" : (await exec.run("systemctl --failed --no-legend --plain", { allowFailure: true })).output.trim();
  return { state: settled, failed };
}
