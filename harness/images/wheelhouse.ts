import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DjangoProject } from "../project/detect.ts";
import { installText, projectRequirements, type Requirement } from "../project/requirements.ts";
import { formatDuration, type Logger } from "../plumbing/log.ts";
import { cacheDir } from "../plumbing/paths.ts";
import { settings } from "../plumbing/settings.ts";

export interface PythonTarget {
  /** e.g. "3.11" */
  version: string;
  /** e.g. "x86_64" */
  machine: string;
}

/** A shell command that prints a server's PythonTarget ("3.11 x86_64"), for parsePythonTarget. */
export const PYTHON_TARGET_PROBE = `python3 -c 'import sys, platform; print("%d.%d" % sys.version_info[:2], platform.machine())'`;

export function parsePythonTarget(output: string): PythonTarget {
  const [version = "", machine = ""] = output.trim().split(" ");
  return { version, machine };
}

export class WheelhouseError extends Error {
  override name = "WheelhouseError";
  constructor(
    message: string,
    /** The project's requirements the package index could not serve, with their file and line. */
    readonly unservable: Requirement[] = [],
  ) {
    super(message);
  }
}

/**
 * Downloads wheels for a project's requirements on the host (gunicorn added when it lacks it), for
 * the servers' Python and platform (servers cannot reach PyPI). Cached per requirements (every
 * line, includes too) and target, so it happens once. A requirement the index cannot serve is named
 * with its file and line, before any server is touched.
 */
export async function ensureWheelhouse(project: Pick<DjangoProject, "dir" | "requirements">, target: PythonTarget, log: Logger): Promise<string> {
  const requirementsPath = join(project.dir, project.requirements);
  const wanted = projectRequirements(project);
  const requirements = installText(project);
  const tag = `cp${target.version.replace(".", "")}`;
  const key = createHash("sha256").update(requirements.replace(project.dir, "")).update(JSON.stringify(wanted)).digest("hex").slice(0, 12);
  const dir = cacheDir("wheelhouse", `${key}-${tag}-${target.machine}`);
  if (existsSync(`${dir}/.complete`)) return dir;
  const started = Date.now();
  log.info(`wheelhouse: downloading ${requirementsPath} for Python ${target.version} ${target.machine}`);
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const platforms = ["manylinux2014", "manylinux_2_17", "manylinux_2_28", "manylinux_2_34"].flatMap((p) => ["--platform", `${p}_${target.machine}`]);
  const args = [
    "-m", "pip", "download", "--disable-pip-version-check",
    // One try: where PyPI is unreachable, pip's retries only add a minute before the mirror answers.
    "--retries", "0", "--timeout", "30",
    "--only-binary=:all:", ...platforms, "--python-version", target.version, "--implementation", "cp", "--abi", tag,
    "-d", tmp, "-r", `${tmp}.txt`,
  ];
  await writeFile(`${tmp}.txt`, requirements);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(settings().python, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const onData = (b: Buffer) => {
      out += b.toString();
      for (const line of b.toString().split("\n").filter((l) => /^(Collecting|Saved|Downloading|ERROR)/.test(l.trim()))) log.progress(`pip: ${line.trim()}`);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (e) => reject(new WheelhouseError(`wheelhouse: cannot run python3 -m pip on the host: ${e.message}. Install python3 and pip, or set TESTBED_PYTHON.`)));
    child.on("close", (code) => {
      if (code === 0) return resolve(out);
      const errors = out.split("\n").filter((l) => /ERROR|No matching distribution|Could not find/.test(l));
      // pip names the distribution it could not find: say which line of the project asked for it.
      const missing = [...new Set([...out.matchAll(/(?:No matching distribution found for|satisfies the requirement) ([A-Za-z0-9_.-]+)/g)].map((m) => m[1]!.toLowerCase().replace(/_/g, "-")))];
      const unservable = missing.flatMap((name) => wanted.filter((r) => r.name === name));
      const lines = unservable.map((r) => `${r.where}: ${r.line}`);
      reject(
        new WheelhouseError(
          `wheelhouse: pip download for ${requirementsPath} failed (exit ${code}): ` +
            `${(errors.length ? errors : out.trim().split("\n").slice(-5)).join("\n")}\n` +
            (lines.length ? `The package index cannot serve: ${lines.join("; ")}.\n` : "") +
            `Every requirement must exist as a wheel for Python ${target.version} on ${target.machine}; change that line, or add the package to the host's pip index.`,
          unservable,
        ),
      );
    });
  }).catch(async (err) => {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }).finally(() => rm(`${tmp}.txt`, { force: true }));
  await writeFile(`${tmp}/.complete`, output);
  await mkdir(dirname(dir), { recursive: true });
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  log.info(`wheelhouse: ready in ${formatDuration(Date.now() - started)} (${dir})`);
  return dir;
}
