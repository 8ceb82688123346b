import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RELEASES_KEPT, type DeploymentConfig, type Environment } from "../core/envs.ts";
import type { DjangoProject } from "../project/detect.ts";
import { releaseSteps } from "./release-steps.ts";
import { gunicornCommands } from "./units.ts";

/**
 * The release tool as the recipe installs it. The server holds release-tool.py as
 * /usr/local/bin/<project>-release, its library (release_environment.py: what an environment's
 * releases are) in /usr/local/lib/<project>-release/; the recipe and the generated pipeline both
 * run the steps of release-steps.json with it, each as one visible command. Neither writes its own deploy.
 */
const source = (file: string) => readFileSync(fileURLToPath(new URL(file, import.meta.url)), "utf8");
export const releaseToolSource = () => source("./release-tool.py");
export const releaseLibrarySource = () => releaseLibraryModuleSource("release_environment.py");
/**
 * The tool's library, installed as one directory it imports from: an environment's releases
 * (release_environment.py), what every part shares (release_common.py), the hold and the takeover
 * from a killed deploy (release_takeover.py), the lock, history and crash points (release_state.py),
 * the checklist's server side (release_checklist.py) and gunicorn's entry point, each answer naming
 * its release (release_wsgi.py).
 */
export const RELEASE_LIBRARY = ["release_environment.py", "release_common.py", "release_takeover.py", "release_state.py", "release_checklist.py", "release_wsgi.py"] as const;
export type ReleaseLibraryModule = (typeof RELEASE_LIBRARY)[number];
export const releaseLibraryModuleSource = (module: ReleaseLibraryModule) => source(`./${module}`);
export const releaseWsgiSource = () => releaseLibraryModuleSource("release_wsgi.py");
/** What the tool runs inside a release's Django (release-django.py), installed beside it. */
export const releaseDjangoSource = () => source("./release-django.py");
/** The forced command of the CI deploy keys (release-ssh.py): the release tool and rsync uploads, nothing else. */
export const releaseDispatcherSource = () => source("./release-ssh.py");

/** One check of a deployed environment (checklist.json): `server` ones the tool evaluates, `http` ones whoever verifies. */
export interface CheckDefinition {
  id: string;
  side: "server" | "http";
  sentence: string;
  expects: string;
  lookAt: string;
}
export const checklist = (): CheckDefinition[] => (JSON.parse(source("./checklist.json")) as { checks: CheckDefinition[] }).checks;

/** The tool's command name, as the pipeline's jobs call it over ssh. */
export const releaseToolName = (config: DeploymentConfig) => `${config.project}-release`;
export const releaseToolPath = (config: DeploymentConfig) => `/usr/local/bin/${releaseToolName(config)}`;
export const releaseDispatcherPath = (config: DeploymentConfig) => `/usr/local/bin/${releaseToolName(config)}-ssh`;
export const releaseToolConfigPath = (config: DeploymentConfig) => `/etc/${config.project}-release.json`;
export const releaseDjangoPath = (config: DeploymentConfig) => `/usr/local/lib/${config.project}-release-django.py`;
/** The directory the tool imports its library from (its name is the tool's). */
export const releaseLibraryDir = (config: DeploymentConfig) => `/usr/local/lib/${config.project}-release`;
export const releaseLibraryModulePath = (config: DeploymentConfig, module: ReleaseLibraryModule) => `${releaseLibraryDir(config)}/${module}`;
export const releaseLibraryPath = (config: DeploymentConfig) => releaseLibraryModulePath(config, "release_environment.py");
export const releaseWsgiPath = (config: DeploymentConfig) => releaseLibraryModulePath(config, "release_wsgi.py");

/** What the tool needs of the project: where manage.py is, its requirements, its health path, a Host it allows. */
export type ToolProject = Pick<DjangoProject, "appDir" | "requirements" | "health" | "staticUrl" | "mediaUrl"> & { host: string };

/**
 * The tool's settings: each environment's paths, unit, gunicorn commands and port, from the
 * environment table; the project's facts; and the release steps from their table (the tool
 * validates step names by it).
 */
export function releaseToolConfig(config: DeploymentConfig, envs: Environment[], project: ToolProject): string {
  const table = Object.fromEntries(
    envs.map((e) => [
      e.name,
      { live: e.dir, releases: e.releases, venvs: e.venvs, media: e.media, envFile: e.envFile, unit: e.unit, gunicorn: gunicornCommands(e.unit), port: e.port, tier: e.tier, user: e.user, socket: e.socket, database: e.database, role: e.role },
    ]),
  );
  const steps = releaseSteps().map(({ step, runs }) => ({ step, runs }));
  const { appDir, requirements, health, host, staticUrl, mediaUrl } = project;
  const facts = { appDir, requirements, health, host, staticUrl, mediaUrl };
  return JSON.stringify({ project: config.project, keep: RELEASES_KEPT, isolation: config.isolation, django: releaseDjangoPath(config), steps, checklist: checklist(), envs: table, projectFacts: facts }, null, 2) + "\n";
}
