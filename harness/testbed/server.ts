import type { Config as SshConfig } from "node-ssh";
import { dockerExec, lastLines, type ExecOptions, type ExecResult } from "../docker/exec.ts";
import { connectHost } from "../docker/host.ts";

export type ServerRole = "app" | "db";

export const SERVER_ALIASES: Record<ServerRole, string> = {
  app: "myappserver",
  db: "mydatabaseserver",
};

export class CommandError extends Error {
  constructor(readonly where: string, readonly command: string, readonly result: ExecResult) {
    super(`${where}: \`${command}\` exited ${result.exitCode}\n${lastLines(result.output, 20)}`);
    this.name = "CommandError";
  }
}

/** One server of a started testbed: exec through the engine, and what the host needs to reach it. */
export class Server {
  constructor(
    readonly role: ServerRole,
    readonly containerId: string,
    readonly alias: string,
    /** Container port -> published loopback port. */
    readonly ports: ReadonlyMap<number, number>,
    readonly hostKey: string,
    private readonly adminKey: string,
  ) {}

  get label(): string {
    return this.role === "app" ? "app server" : "database server";
  }

  mappedPort(containerPort: number): number {
    const p = this.ports.get(containerPort);
    if (p === undefined) throw new Error(`${this.label}: port ${containerPort} is not published`);
    return p;
  }

  exec(cmd: string[], opts?: ExecOptions): Promise<ExecResult> {
    return dockerExec(this.containerId, cmd, opts);
  }

  /** Runs a bash script as root; returns its result whatever the exit code. */
  sh(script: string, opts?: ExecOptions): Promise<ExecResult> {
    return dockerExec(this.containerId, ["bash", "-c", script], opts);
  }

  /** Like sh, but a non-zero exit is an error naming this server and the command. */
  async check(script: string, opts?: ExecOptions): Promise<string> {
    const r = await this.sh(script, opts);
    if (r.exitCode !== 0) throw new CommandError(this.label, script, r);
    return r.stdout;
  }

  /** node-ssh connection settings for `username`, with this server's own host key verified. */
  ssh(username = "root", privateKey = this.adminKey): SshConfig {
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
