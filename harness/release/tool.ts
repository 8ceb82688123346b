import { readFileSync } from "node:fs";
import { RELEASES_KEPT, type DeploymentConfig, type Environment } from "../domain/envs.ts";
import type { DjangoProject } from "../project/detect.ts";
import type { Runner } from "../shell/command.ts";
import { sh } from "../shell/quote.ts";
import { releaseSteps } from "./commands.ts";

/**
 * The release tool (release-tool/ at the repository's root, Python that runs on the servers) as the
 * harness installs it: the one TypeScript file that knows its files, where they go on a server and
 * what its config holds. The server holds release_tool.py as /usr/local/bin/<project>-release, its
 * forced command for the CI keys as <project>-release-ssh, its library in
 * /usr/local/lib/<project>-release/ and its config in /etc/<project>-release.json. The recipe and the
 * generated pipeline both run the steps of release-tool/steps.json with it, each as one visible
 * command. Neither writes its own deploy.
 */

/** The tool's folder in this repository. */
export const RELEASE_TOOL_DIR = new URL("../../release-tool/", import.meta.url);
const source = (file: string) => readFileSync(new URL(file, RELEASE_TOOL_DIR), "utf8");

/**
 * The tool's library, installed as one directory it imports from: an environment's releases
 * (release_environment.py), what every part shares (release_common.py), the hold and the takeover
 * from a killed deploy (release_takeover.py), the lock, history and crash points (release_state.py),
 * the checklist's server side (release_checklist.py), gunicorn's entry point, each answer naming
 * its release (release_wsgi.py), and the judgement of a project's settings as Django loads them,
 * which the harness's preflight runs too (release_settings.py). Every module keeps the `release_` prefix: the directory is on
 * gunicorn's path beside the project's own modules, and a bare `common` or `state` could shadow one.
 */
export const RELEASE_LIBRARY = ["release_environment.py", "release_common.py", "release_takeover.py", "release_state.py", "release_checklist.py", "release_wsgi.py", "release_settings.py"] as const;
export type ReleaseLibraryModule = (typeof RELEASE_LIBRARY)[number];

export const releaseToolSource = () => source("release_tool.py");
export const releaseLibraryModuleSource = (module: ReleaseLibraryModule) => source(module);
export const releaseLibrarySource = () => releaseLibraryModuleSource("release_environment.py");
export const releaseWsgiSource = () => releaseLibraryModuleSource("release_wsgi.py");
/** What the tool runs inside a release's Django (release_django.py), installed beside it. */
export const releaseDjangoSource = () => source("release_django.py");
/** The forced command of the CI deploy keys (release_ssh.py): the release tool and rsync uploads, nothing else. */
export const releaseDispatcherSource = () => source("release_ssh.py");

/**
 * One check of a deployed environment (release-tool/checklist.json). The tool evaluates the
 * `server` and `http` ones on the server (http: through nginx on 127.0.0.1, as the server asks
 * itself); `outside` ones need a view from outside the server, and whoever verifies from there
 * (`npm run verify`, the specs) evaluates them against the tool's own answer.
 */
export interface CheckDefinition {
  id: string;
  side: "server" | "http" | "outside";
  sentence: string;
  expects: string;
  lookAt: string;
}
export const checklist = (): CheckDefinition[] => (JSON.parse(source("checklist.json")) as { checks: CheckDefinition[] }).checks;

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

/**
 * How a deploy restarts an environment's gunicorn, keeping its socket open. A plain \`systemctl
 * restart\` also restarts the socket on systemd ≥ 254 (Debian 13, Ubuntu 24.04), because restarts
 * now propagate through StopPropagatedFrom= (systemd#24068): measured on trixie, 45 of 2,324
 * requests failed (connection reset, then EACCES while the socket file was re-made) against 0 of
 * 2,287 with \`--job-mode ignore-dependencies\`, which leaves the socket alone on every systemd.
 * Without dependencies, though, a service not running yet (the first deploy, its socket not
 * listening either) would start without its socket and bind gunicorn's default 127.0.0.1:8000:
 * that case is a \`start\`, which brings the socket up first. Space-separated, not
 * \`--job-mode=…\`: sudoers would need the \`=\` escaped. The tool runs them (its config carries
 * them), and sudoers allows exactly these.
 */
export function gunicornCommands(unit: string): { restart: string[]; start: string[] } {
  return {
    restart: ["/usr/bin/systemctl", "restart", "--job-mode", "ignore-dependencies", unit],
    start: ["/usr/bin/systemctl", "start", unit],
  };
}

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
      { live: e.dir, releases: e.releases, venvs: e.venvs, media: e.media, envFile: e.envFile, unit: e.unit, gunicorn: gunicornCommands(e.unit), port: e.port, tier: e.tier, user: e.user, socket: e.socket, database: e.database, role: e.role, workers: e.workers },
    ]),
  );
  const steps = releaseSteps().map(({ step, runs }) => ({ step, runs }));
  const { appDir, requirements, health, host, staticUrl, mediaUrl } = project;
  const facts = { appDir, requirements, health, host, staticUrl, mediaUrl };
  return JSON.stringify({ project: config.project, keep: RELEASES_KEPT, isolation: config.isolation, django: releaseDjangoPath(config), steps, checklist: checklist(), envs: table, projectFacts: facts }, null, 2) + "\n";
}

/** A server the tool is installed on: commands, and files written only when they differ. */
export interface InstallTarget extends Runner {
  writeFile(path: string, text: string, fileMode: string): Promise<boolean>;
}

/** Installs the tool, its forced command, its library, its Django helper and its config. */
export async function installReleaseTool(app: InstallTarget, config: DeploymentConfig, envs: Environment[], project: ToolProject): Promise<void> {
  await app.run(sh`install -d -m 755 ${releaseLibraryDir(config)}`);
  // Side by side on the one ssh connection: each write is a round trip.
  await Promise.all([
    app.writeFile(releaseToolPath(config), releaseToolSource(), "755"),
    app.writeFile(releaseDispatcherPath(config), releaseDispatcherSource(), "755"),
    ...RELEASE_LIBRARY.map((module) => app.writeFile(releaseLibraryModulePath(config, module), releaseLibraryModuleSource(module), "644")),
    app.writeFile(releaseDjangoPath(config), releaseDjangoSource(), "644"),
    app.writeFile(releaseToolConfigPath(config), releaseToolConfig(config, envs, project), "644"),
  ]);
}
