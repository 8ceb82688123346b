import { NodeSSH, type Config as SshConfig } from "node-ssh";
import { TimeoutError, waitFor } from "./deadline.ts";
import { lastLines, shellQuote } from "./docker/exec.ts";

export class RemoteCommandError extends Error {
  constructor(readonly where: string, readonly command: string, readonly exitCode: number | null, readonly output: string) {
    super(`${where}: \`${command}\` exited ${exitCode}\n${lastLines(output, 25)}`);
    this.name = "RemoteCommandError";
  }
}

export interface RunOptions {
  /** Run as this user (through sudo -H) instead of the login user. */
  as?: string;
  stdin?: string;
  /** Return the result of a failing command instead of throwing. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  output: string;
}

/** An ssh session on one server, as an operator would have: commands, file writes, uploads. */
export class Remote {
  private constructor(readonly where: string, readonly ssh: NodeSSH) {}

  /**
   * Connects, retrying only what a server still coming up answers (refused or dropped before the
   * handshake) until `timeoutMs`; a refused key or host key fails at once.
   */
  static async connect(where: string, config: SshConfig, timeoutMs = 10_000): Promise<Remote> {
    const started = Date.now();
    const fail = (message: string) =>
      new Error(`${where}: ssh to ${config.username}@${config.host}:${config.port} failed after ${Math.round((Date.now() - started) / 1000)} s: ${message}`);
    // waitFor retries what the probe throws; a final refusal is returned instead, so it ends the wait.
    const outcome = await waitFor(
      "ssh",
      async (): Promise<NodeSSH | Error> => {
        const ssh = new NodeSSH();
        try {
          return await ssh.connect(config);
        } catch (err) {
          ssh.dispose();
          if (/ECONNREFUSED|ECONNRESET|Connection lost before handshake/.test((err as Error).message)) throw err;
          return err as Error;
        }
      },
      { timeoutMs },
    ).catch((err: TimeoutError) => {
      throw fail((err.lastError as Error)?.message ?? err.message);
    });
    if (outcome instanceof Error) throw fail(outcome.message);
    return new Remote(where, outcome);
  }

  async run(command: string, opts: RunOptions = {}): Promise<RunResult> {
    const full = opts.as ? `sudo -H -u ${shellQuote(opts.as)} bash -c ${shellQuote(command)}` : `bash -c ${shellQuote(command)}`;
    let output = "";
    const r = await this.ssh.execCommand(full, {
      stdin: opts.stdin,
      onStdout: (b) => (output += b.toString()),
      onStderr: (b) => (output += b.toString()),
    });
    const result = { code: r.code, stdout: r.stdout, stderr: r.stderr, output };
    if (r.code !== 0 && !opts.allowFailure) throw new RemoteCommandError(this.where, command, r.code, output);
    return result;
  }

  /**
   * Writes a file only when its content differs, so re-running changes nothing.
   * Returns whether it changed.
   */
  async writeFile(path: string, content: string, mode: string, owner = "root:root"): Promise<boolean> {
    const script =
      `tmp=$(mktemp) && cat > "$tmp" && ` +
      `if cmp -s "$tmp" ${shellQuote(path)}; then rm -f "$tmp"; echo same; ` +
      `else install -m ${mode} -o ${owner.split(":")[0]} -g ${owner.split(":")[1]} "$tmp" ${shellQuote(path)} && rm -f "$tmp"; echo changed; fi; ` +
      `chmod ${mode} ${shellQuote(path)}; chown ${owner} ${shellQuote(path)}`;
    const r = await this.run(script, { stdin: content });
    return r.stdout.trim().startsWith("changed");
  }

  /** Uploads a directory over sftp; `skip` leaves out local paths that match. */
  async putDirectory(local: string, remote: string, skip?: (localPath: string) => boolean): Promise<void> {
    const failed: string[] = [];
    const ok = await this.ssh.putDirectory(local, remote, {
      recursive: true,
      concurrency: 4,
      validate: (path) => !skip?.(path),
      tick: (localPath, _remotePath, error) => {
        if (error) failed.push(`${localPath}: ${error.message}`);
      },
    });
    if (!ok) throw new Error(`${this.where}: upload of ${local} to ${remote} failed: ${failed.slice(0, 5).join("; ")}`);
  }

  dispose(): void {
    this.ssh.dispose();
  }
}
