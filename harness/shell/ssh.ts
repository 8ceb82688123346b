import { NodeSSH, type Config as SshConfig } from "node-ssh";
import pLimit from "p-limit";
import { TimeoutError, waitFor } from "../plumbing/deadline.ts";
import { NO_HOOKS, type Hooks } from "../domain/hooks.ts";
import { raw, sh } from "./quote.ts";
import { checked, type CommandResult, type Runner, type RunOptions } from "./command.ts";

/**
 * Commands open at once on one connection. sshd allows MaxSessions channels per connection (10 by
 * default, a real server's may be lower); the recipe's steps write files side by side, and ten
 * writes at once failed with "Channel open failure". Two are left for an sftp upload alongside.
 */
const CHANNELS = 8;
/**
 * sshd frees a session a moment after the client sees its channel close, so under churn a new
 * channel can still be refused. A refused channel ran nothing (the command goes after the open), so
 * it is asked for again, until this deadline.
 */
const CHANNEL_RETRY_MS = 10_000;
const CHANNEL_REFUSED = /Channel open failure/;

/** An ssh session on one server, as an operator would have: commands, file writes, uploads. */
export class SshRunner implements Runner {
  private readonly channels = pLimit(CHANNELS);
  private constructor(readonly where: string, readonly ssh: NodeSSH, private readonly hooks: Hooks, private readonly plain = false) {}

  /**
   * Connects, retrying only what a server still coming up answers (refused or dropped before the
   * handshake) until `timeoutMs`; a refused key or host key fails at once. `hooks` change every
   * file written through this session (harness/domain/hooks.ts).
   */
  static async connect(server: string, config: SshConfig, opts: { timeoutMs?: number; hooks?: Hooks; plain?: boolean } = {}): Promise<SshRunner> {
    const { timeoutMs = 10_000, hooks = NO_HOOKS } = opts;
    const where = `${server} (ssh)`;
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
    return new SshRunner(where, outcome, hooks, opts.plain);
  }

  async run(command: string, opts: RunOptions = {}): Promise<CommandResult> {
    // `plain`: the command goes as it is, for an account whose forced command reads it word by word
    // (a CI deploy key); there is no shell on the other side to run `bash -c` or sudo.
    if (this.plain && opts.as) throw new Error(`${this.where}: cannot run as ${opts.as} through a forced command`);
    const full = this.plain ? command : opts.as ? sh`sudo -H -u ${opts.as} bash -c ${command}` : sh`bash -c ${command}`;
    let output = "";
    // waitFor retries what the probe throws (a refused channel); any other error is returned, so it ends the wait.
    const outcome = await this.channels(() =>
      waitFor(
        `${this.where}: a channel for \`${command}\``,
        async () => {
          output = "";
          try {
            return await this.ssh.execCommand(full, {
              stdin: opts.stdin,
              onStdout: (b) => (output += b.toString()),
              onStderr: (b) => (output += b.toString()),
            });
          } catch (err) {
            if (CHANNEL_REFUSED.test((err as Error).message)) throw err;
            return err as Error;
          }
        },
        { timeoutMs: CHANNEL_RETRY_MS },
      ),
    );
    if (outcome instanceof Error) throw outcome;
    const r = outcome;
    return checked(this.where, command, { exitCode: r.code, stdout: r.stdout, stderr: r.stderr, output }, opts);
  }

  /**
   * Writes a file only when its content differs, so re-running changes nothing.
   * Returns whether it changed.
   */
  async writeFile(path: string, text: string, fileMode: string, owner = "root:root"): Promise<boolean> {
    // Every file the recipe puts on a server passes here: the one place a run's hooks change one.
    const [content, mode] = [this.hooks.file(path, text), this.hooks.mode(path, fileMode)];
    const [user, group] = owner.split(":") as [string, string];
    const script =
      sh`tmp=$(mktemp) && cat > "$tmp" && ` +
      sh`if cmp -s "$tmp" ${path}; then rm -f "$tmp"; echo same; ` +
      sh`else install -m ${mode} -o ${user} -g ${group} "$tmp" ${path} && rm -f "$tmp"; echo changed; fi; ` +
      sh`chmod ${mode} ${path}; chown ${raw(`${sh`${user}`}:${sh`${group}`}`)} ${path}`;
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
