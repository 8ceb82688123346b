import type { Config as SshConfig } from "node-ssh";
import { DockerExecRunner } from "../shell/exec-runner.ts";
import { connectHost } from "../docker/engine-address.ts";
import { SEED_SERVERS } from "../domain/envs.ts";

export type ServerRole = "app" | "db";

export const SERVER_ALIASES: Record<ServerRole, string> = SEED_SERVERS;

/** One server of a started testbed: exec through the engine, and what the host needs to reach it. */
export class Server {
  /** Commands as root through docker exec: the harness's own look at the server, not an operator's. */
  readonly exec: DockerExecRunner;

  constructor(
    readonly role: ServerRole,
    readonly containerId: string,
    readonly alias: string,
    /** Container port -> published loopback port. */
    readonly ports: ReadonlyMap<number, number>,
    readonly hostKey: string,
    private readonly adminKey: string,
  ) {
    this.exec = new DockerExecRunner(containerId, `${this.label} (docker exec)`);
  }

  get label(): string {
    return this.role === "app" ? "app server" : "database server";
  }

  mappedPort(containerPort: number): number {
    const p = this.ports.get(containerPort);
    if (p === undefined) throw new Error(`${this.label}: port ${containerPort} is not published`);
    return p;
  }

  /** node-ssh connection settings for `username`, with this server's own host key verified. */
  sshConfig(username = "root", privateKey = this.adminKey): SshConfig {
    const expected = this.hostKey.split(/\s+/)[1] ?? "";
    return {
      host: connectHost(),
      port: this.mappedPort(22),
      username,
      privateKey,
      readyTimeout: 20_000,
      hostVerifier: (key: Buffer) => key.toString("base64") === expected,
    } as SshConfig;
  }
}
