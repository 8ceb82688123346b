import { lastLines } from "../plumbing/log.ts";

/**
 * One way to run a command on a server, whatever carries it: docker exec (DockerExecRunner, for the
 * harness's own look at a server) or ssh (SshRunner, as an operator or the recipe would). One result
 * type, one error type; a non-zero exit throws unless the caller says it expects one.
 */

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
}

export interface RunOptions {
  /** Run as this user instead of the runner's own (root). */
  as?: string;
  stdin?: string;
  /** Return the result of a failing command instead of throwing. */
  allowFailure?: boolean;
}

export interface Runner {
  /** The server and the transport, for messages: "app server (ssh)". */
  readonly where: string;
  /** Runs a bash command line (build it with harness/shell/quote.ts). */
  run(command: string, opts?: RunOptions): Promise<CommandResult>;
}

export class CommandError extends Error {
  override name = "CommandError";
  constructor(readonly where: string, readonly command: string, readonly result: CommandResult) {
    super(`${where}: \`${command}\` exited ${result.exitCode}\n${lastLines(result.output, 25)}`);
  }
}

/** The result, or a CommandError when it failed and failure was not allowed. */
export function checked(where: string, command: string, result: CommandResult, opts: RunOptions = {}): CommandResult {
  if (result.exitCode !== 0 && !opts.allowFailure) throw new CommandError(where, command, result);
  return result;
}
