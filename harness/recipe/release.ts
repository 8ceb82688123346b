import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RELEASES_KEPT, type DeploymentConfig, type Environment } from "../envs.ts";
import { injectSteps } from "../faults/inject.ts";
import { sh, type ShellText } from "../quote.ts";
import { gunicornCommands } from "./units.ts";

/**
 * One definition of a deploy. The server holds the release tool (release-tool.py, provisioned as
 * /usr/local/bin/<project>-release); the recipe and the generated pipeline both run the same steps
 * of it, in this order, each as one visible command. Neither writes its own deploy.
 */
export const RELEASE_TOOL_SOURCE = readFileSync(fileURLToPath(new URL("./release-tool.py", import.meta.url)), "utf8");

export const releaseToolPath = (config: DeploymentConfig) => `/usr/local/bin/${config.project}-release`;
export const releaseToolConfigPath = (config: DeploymentConfig) => `/etc/${config.project}-release.json`;
/** The command name as the deploy user types it (/usr/local/bin is on every login's PATH). */
export const releaseTool = (config: DeploymentConfig) => `${config.project}-release`;

/** The tool's settings: each environment's paths, unit, gunicorn commands and port, from the environment table. */
export function releaseToolConfig(config: DeploymentConfig, envs: Environment[]): string {
  const table = Object.fromEntries(
    envs.map((e) => [e.name, { live: e.dir, releases: e.releases, venvs: e.venvs, media: e.media, envFile: e.envFile, unit: e.unit, gunicorn: gunicornCommands(e.unit), port: e.port, tier: e.tier }]),
  );
  return JSON.stringify({ project: config.project, keep: RELEASES_KEPT, envs: table }, null, 2) + "\n";
}

export type ReleaseStep = "venv" | "check" | "collectstatic" | "migrate" | "switch" | "verify";

/** What a deploy does once the code is uploaded into a new release, in order. */
export const RELEASE_STEPS: ReadonlyArray<{ step: ReleaseStep; title: string }> = injectSteps([
  { step: "venv", title: "requirements (a venv per requirements.txt, reused when unchanged)" },
  { step: "check", title: "manage.py check" },
  { step: "collectstatic", title: "manage.py collectstatic" },
  { step: "migrate", title: "manage.py migrate" },
  { step: "switch", title: "switch the live release" },
  { step: "verify", title: "verify through nginx" },
]);

/**
 * One step as a command on the server. `release` is the release's path, or shell text such as
 * "$RELEASE" that the job's shell expands; `extra` are further words (pip's arguments).
 */
export function releaseCommand(config: DeploymentConfig, env: Environment, step: string, release?: string | ShellText, extra: ReadonlyArray<string | ShellText> = []): string {
  return sh`${[releaseTool(config), env.name, step, ...(release === undefined ? [] : [release]), ...extra]}`;
}

/** Files rsync leaves out of a release: the repository's own metadata, anchored at its root. */
export const UPLOAD_EXCLUDES = ["/.git/", "/.release.json", "/.release-ready", "/media"];
