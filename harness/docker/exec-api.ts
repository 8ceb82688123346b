import { PassThrough } from "node:stream";
import { docker } from "./client.ts";

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
}

export interface ExecOptions {
  user?: string;
  env?: Record<string, string>;
  workingDir?: string;
  stdin?: string;
}

/** Runs a command in a running container through the engine's exec API (no docker CLI). */
export async function dockerExec(containerId: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const d = docker();
  const exec = await d.getContainer(containerId).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: opts.stdin !== undefined,
    User: opts.user,
    WorkingDir: opts.workingDir,
    Env: opts.env ? Object.entries(opts.env).map(([k, v]) => `${k}=${v}`) : undefined,
  });
  const stream = await exec.start({ hijack: opts.stdin !== undefined, stdin: opts.stdin !== undefined });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const all: Buffer[] = [];
  const stdout = new PassThrough().on("data", (b: Buffer) => (out.push(b), all.push(b)));
  const stderr = new PassThrough().on("data", (b: Buffer) => (err.push(b), all.push(b)));
  d.modem.demuxStream(stream, stdout, stderr);
  if (opts.stdin !== undefined) stream.end(opts.stdin);
  await new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  const info = await exec.inspect();
  return {
    exitCode: info.ExitCode ?? -1,
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
    output: Buffer.concat(all).toString("utf8"),
  };
}
