import { spawn } from "node:child_process";
import { docker } from "../docker/client.ts";
import { LABEL } from "../docker/labels.ts";
import { PROJECT_ROOT } from "../plumbing/paths.ts";
import { peakMemoryBytes } from "./memory.ts";
import { childEnv } from "../plumbing/settings.ts";

export interface SandboxRun {
  /** From the command's start to the printed table. */
  toTableMs: number;
  /** Sum of the app and database servers' peak memory. */
  peakMemoryBytes: number | undefined;
  /** From Ctrl-C to the command's exit, with everything removed. */
  teardownMs: number;
}

/** Runs `npm run sandbox` as a person would, until its table, then Ctrl-C. */
export async function runSandboxCommand(args: string[] = []): Promise<SandboxRun> {
  const started = Date.now();
  const child = spawn("npm", ["run", "-s", "sandbox", "--", ...args], { cwd: PROJECT_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: childEnv({ TESTBED_QUIET: "1" }) });
  let out = "";
  let err = "";
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const id = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const m = out.match(/Sandbox (\S+) is up/);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`sandbox exited ${code} before its table:\n${err.slice(-3000)}`)));
  });
  const toTableMs = Date.now() - started;
  const containers = await docker().listContainers({ filters: { label: [`${LABEL.testbed}=${id}`] } });
  const peaks = containers.map((c) => peakMemoryBytes(c.Id));
  const stopAt = Date.now();
  process.kill(-child.pid!, "SIGINT");
  await exited;
  return {
    toTableMs,
    peakMemoryBytes: peaks.every((p) => p !== undefined) ? peaks.reduce((s, p) => s! + p!, 0) : undefined,
    teardownMs: Date.now() - stopAt,
  };
}

export interface SuiteRun {
  ms: number;
  exitCode: number | null;
  summary: string;
}

/** Runs `npm test` and returns its wall time and vitest's summary line. */
export async function runTestSuite(args: string[] = [], env: Record<string, string> = {}): Promise<SuiteRun> {
  const started = Date.now();
  const child = spawn("npm", ["test", ...(args.length ? ["--", ...args] : [])], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"], env: childEnv({ ...env, TESTBED_QUIET: "1", NO_COLOR: "1" }) });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", () => {});
  const exitCode = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const summary = out.replace(/\x1b\[[0-9;]*m/g, "").match(/Tests\s+(.*)/)?.[1]?.trim() ?? "(no summary)";
  return { ms: Date.now() - started, exitCode, summary };
}

/** Seconds per spec file from a vitest JUnit report (its testsuite elements), slowest first. */
export function fileTimes(junitXml: string): Array<{ file: string; s: number }> {
  return [...junitXml.matchAll(/<testsuite name="([^"]+)"[^>]*? time="([\d.]+)"/g)]
    .map((m) => ({ file: m[1]!, s: Math.round(Number(m[2]) * 10) / 10 }))
    .sort((a, b) => b.s - a.s);
}
