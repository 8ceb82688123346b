import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-fs";
import { docker } from "../docker/client.ts";
import { labelsFor } from "../docker/labels.ts";
import type { Environment } from "../domain/envs.ts";
import { contentHash } from "../images/hash.ts";
import { ensureWheelhouse, parsePythonTarget, PYTHON_TARGET_PROBE, WheelhouseError, type PythonTarget } from "../images/wheelhouse.ts";
import { formatDuration, type Logger } from "../plumbing/log.ts";
import { cacheDir } from "../plumbing/paths.ts";
import type { DjangoProject } from "../project/detect.ts";
import { projectRequirements, type Requirement } from "../project/requirements.ts";
import { envFileEntries } from "../recipe/env-file.ts";
import { DB_HOST } from "../recipe/hosts.ts";
import { RELEASE_TOOL_DIR } from "../release/tool.ts";
import { DockerExecRunner } from "../shell/exec-runner.ts";
import { sh } from "../shell/quote.ts";
import type { EnvEvaluation, Evaluated } from "./env-verdict.ts";

/**
 * Each environment's settings, evaluated by the project's own Django under that environment's
 * contract, before any server changes: the variables its environment file will hold (placeholders
 * of the right shape for the secrets), in a container of the app server's image with no network
 * (NetworkMode none) and no secret, the project's requirements installed from the wheelhouse. The
 * project's code never runs on the host. release-tool/release_preflight.py loads the settings and
 * judges them with release_settings.py, the judgement the release tool's `check` makes on the server.
 * Answers are cached by everything they depend on: the project's files, the image, the tool's
 * judgement, the environments' variables.
 */

/** Stand-ins for the secrets the recipe makes on the server: never real, of the shapes Django checks (security.W009). */
export const PLACEHOLDER_SECRETS = {
  dbPassword: "preflight-placeholder-password",
  secretKey: `preflight-${createHash("sha256").update("django-deploy-testbed preflight").digest("hex")}`,
};

/** Where the evaluation happens in its container. */
const ROOT = "/preflight";
const TOOL_FILES = ["release_preflight.py", "release_settings.py"];
/** What a repository carries that no settings module reads: left out of the copy. */
const NOT_COPIED = new Set([".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache"]);

export interface EvaluateOptions {
  /** The app server's image (its Python is the servers'). */
  image: string;
  envs: Environment[];
  /** The hosts the deploy is reached by: ALLOWED_HOSTS must accept them. */
  allowedHosts: string[];
  https?: boolean;
  log: Logger;
}

/** One environment's variables, as its environment file will hold them, with placeholder secrets. */
export function preflightVariables(project: DjangoProject, env: Environment, allowedHosts: string[], https = false): Record<string, string> {
  return envFileEntries(env, PLACEHOLDER_SECRETS, DB_HOST, allowedHosts, project, https);
}

/** Each environment's evaluation, and the requirements the package index could not serve (left out of the install). */
export interface ProjectEvaluation {
  envs: EnvEvaluation[];
  unservable: Requirement[];
}

export async function evaluateProject(project: DjangoProject, opts: EvaluateOptions): Promise<ProjectEvaluation> {
  const variables = opts.envs.map((env) => preflightVariables(project, env, opts.allowedHosts, opts.https));
  const image = (await docker().getImage(opts.image).inspect()).Id;
  const tool = TOOL_FILES.map((f) => readFileSync(new URL(f, RELEASE_TOOL_DIR), "utf8"));
  const key = createHash("sha256")
    .update(await contentHash(project.dir, ["."], [image, ...tool, JSON.stringify([project.appDir, opts.allowedHosts, opts.https ?? false, variables, opts.envs.map((e) => [e.name, e.tier])])], NOT_COPIED))
    .digest("hex")
    .slice(0, 16);
  const cached = cacheDir("preflight", `${key}.json`);
  if (existsSync(cached)) return asInRepository(JSON.parse(await readFile(cached, "utf8")) as ProjectEvaluation);
  const started = Date.now();
  const results = await inContainer(project, opts, variables);
  await mkdir(cacheDir("preflight"), { recursive: true });
  await writeFile(cached, JSON.stringify(results));
  opts.log.info(`preflight: ${opts.envs.map((e) => e.name).join(", ")} evaluated by Django in ${formatDuration(Date.now() - started)} (no network)`);
  return asInRepository(results);
}

/** Paths inside the container's copy of the project, as the repository's own (what the evaluation says is cached as it said it). */
function asInRepository(e: ProjectEvaluation): ProjectEvaluation {
  const strip = (text: string) => text.replaceAll(`${ROOT}/project/`, "");
  return {
    ...e,
    envs: e.envs.map((x) => (x.error ? { ...x, error: { ...x.error, message: strip(x.error.message) } } : { ...x, problems: x.problems.map((p) => ({ ...p, text: strip(p.text) })) })),
  };
}

async function inContainer(project: DjangoProject, opts: EvaluateOptions, variables: Array<Record<string, string>>): Promise<ProjectEvaluation> {
  const id = `ddt-preflight-${randomBytes(3).toString("hex")}`;
  const container = await docker().createContainer({
    Image: opts.image,
    name: id,
    Entrypoint: ["sleep", "infinity"],
    Cmd: [],
    Labels: labelsFor(id, "preflight"),
    NetworkDisabled: true,
    HostConfig: { NetworkMode: "none" },
  });
  try {
    await container.start();
    const shell = new DockerExecRunner(container.id, "preflight container (docker exec)");
    const network = (await shell.run("ls /sys/class/net")).stdout.split(/\s+/).filter(Boolean);
    if (network.some((n) => n !== "lo")) throw new Error(`preflight: the container has network interfaces ${network.join(", ")}; it must have none`);
    const target = parsePythonTarget((await shell.run(PYTHON_TARGET_PROBE)).stdout);
    const { wheelhouse, unservable } = await servableWheelhouse(project, target, opts.log);
    const wanted = projectRequirements(project).filter((r) => !unservable.some((u) => u.where === r.where));
    const requirements = [...wanted.map((r) => r.line), ...(wanted.some((r) => r.name === "gunicorn") ? [] : ["gunicorn"])];
    await put(container.id, project.dir, `${ROOT}/project`, (name) => !NOT_COPIED.has(name.split("/").at(-1)!));
    await put(container.id, wheelhouse, `${ROOT}/wheels`);
    await put(container.id, new URL(".", RELEASE_TOOL_DIR).pathname, `${ROOT}/tool`, (name) => name === "" || TOOL_FILES.some((f) => name.endsWith(f)));
    await shell.run(sh`printf '%s\n' ${requirements} > ${`${ROOT}/requirements.txt`}`);
    const install = await shell.run(
      sh`python3 -m venv --without-pip ${`${ROOT}/venv`} && python3 -m pip --python ${`${ROOT}/venv/bin/python`} install -q --disable-pip-version-check --no-index --find-links ${`${ROOT}/wheels`} -r ${`${ROOT}/requirements.txt`}`,
      { allowFailure: true },
    );
    if (install.exitCode !== 0) throw new Error(`preflight: installing ${project.requirements} from the wheelhouse failed (exit ${install.exitCode}):\n${install.output.trim().split("\n").slice(-8).join("\n")}`);
    const envs = await Promise.all(
      opts.envs.map(async (env, i) => {
        const vars = Object.entries({ PATH: "/usr/bin:/bin", HOME: "/tmp", LANG: "C.UTF-8", ...variables[i] }).map(([k, v]) => `${k}=${v}`);
        const dir = join(`${ROOT}/project`, project.appDir);
        const r = await shell.run(sh`cd ${dir} && env -i ${vars} ${`${ROOT}/venv/bin/python`} ${`${ROOT}/tool/release_preflight.py`} ${`${ROOT}/project`} ${env.tier} ${opts.allowedHosts.join(",")} ${opts.https ? "1" : "0"}`, { allowFailure: true });
        const line = r.stdout.trim().split("\n").at(-1) ?? "";
        let evaluated: Evaluated;
        try {
          evaluated = JSON.parse(line) as Evaluated;
        } catch {
          evaluated = { error: { type: "exit", message: `the evaluation exited ${r.exitCode} without an answer: ${r.output.trim().split("\n").slice(-6).join(" | ")}`, where: null, variable: null } };
        }
        return { env: env.name, tier: env.tier, settings: variables[i]!.DJANGO_SETTINGS_MODULE!, ...evaluated };
      }),
    );
    return { envs, unservable };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * The wheelhouse for the project's requirements; when the package index cannot serve some of them,
 * the wheelhouse for the rest, so that the settings are still judged, and those lines named.
 */
async function servableWheelhouse(project: DjangoProject, target: PythonTarget, log: Logger): Promise<{ wheelhouse: string; unservable: Requirement[] }> {
  try {
    return { wheelhouse: await ensureWheelhouse(project, target, log), unservable: [] };
  } catch (err) {
    if (!(err instanceof WheelhouseError) || !err.unservable.length) throw err;
    const dir = await mkdtemp(join(tmpdir(), "ddt-servable-"));
    try {
      const rest = projectRequirements(project).filter((r) => !err.unservable.some((u) => u.where === r.where));
      await writeFile(join(dir, "requirements.txt"), rest.map((r) => `${r.line}\n`).join(""));
      return { wheelhouse: await ensureWheelhouse({ dir, requirements: "requirements.txt" }, target, log), unservable: err.unservable };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** A directory into the container at `target`, entries filtered by their path inside it. */
async function put(containerId: string, dir: string, target: string, keep: (name: string) => boolean = () => true): Promise<void> {
  const stream = tar.pack(dir, { ignore: (name) => !keep(name.slice(dir.length).replace(/^\//, "")), map: (h) => ({ ...h, name: `${target.slice(1)}/${h.name}` }) });
  await docker().getContainer(containerId).putArchive(stream as never, { path: "/" });
}
