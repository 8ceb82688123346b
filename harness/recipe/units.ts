import { envPaths, envUser, gunicornUnit, type DeploymentConfig } from "../domain/envs.ts";
import type { DjangoProject } from "../project/detect.ts";
import { releaseLibraryDir } from "../release/tool.ts";

/**
 * gunicorn.target, the template unit gunicorn@.service and its socket gunicorn@.socket: the seed's
 * units, corrected (an absolute WorkingDirectory; the seed's `~/home/...` is not a path systemd
 * accepts) and made safe to restart. systemd, not gunicorn, holds the listening socket, so while
 * gunicorn restarts into a new release, connections wait in the socket's queue instead of failing
 * (measured: `restart` without it dropped 717 of 3,570 requests; with it, none).
 */
export function gunicornTarget(): string {
  return `[Unit]
Description=Gunicorn: every environment's app server, started and stopped together

[Install]
WantedBy=multi-user.target
`;
}

/** Every path below is the environment table's, for the instance name %i. */
const templatePaths = (config: DeploymentConfig) => envPaths(config, "%i");

export function gunicornSocket(config: DeploymentConfig): string {
  const p = templatePaths(config);
  return `[Unit]
Description=gunicorn socket for ${config.project} (%i)
PartOf=gunicorn.target
# The seed's \`systemctl stop gunicorn@<env>\` stops the socket too (or the next request would start
# gunicorn again). systemd ≥ 254 propagates a restart here as well (systemd#24068), which closes the
# socket: deploys restart with --job-mode ignore-dependencies (gunicornCommands, harness/release/tool.ts), which does not.
StopPropagatedFrom=${gunicornUnit("%i")}.service
# Provisioned but never deployed: no socket, so no request starts a gunicorn that cannot run.
ConditionPathExists=${p.venv}/bin/gunicorn

[Socket]
# Outside the releases, so it stays put while the live release changes.
ListenStream=${p.socket}
SocketUser=${envUser(config, "%i")}
SocketGroup=www-data
SocketMode=0660

[Install]
WantedBy=gunicorn.target
`;
}

/**
 * The instance runs the project's own WSGI application (RELEASE_WSGI, in the environment file)
 * through the release tool's wrapper, which names the release in every answer, in the live
 * release's directory of manage.py.
 */
export function gunicornTemplate(config: DeploymentConfig, project: Pick<DjangoProject, "appDir">): string {
  const p = templatePaths(config);
  return `[Unit]
Description=gunicorn daemon for ${config.project} (%i)
Requires=${gunicornUnit("%i")}.socket
After=network.target ${gunicornUnit("%i")}.socket
PartOf=gunicorn.target
# Since systemd 235 reloading the target passes through to the instances.
ReloadPropagatedFrom=gunicorn.target
# Provisioned but not deployed yet (no gunicorn in the venv): skipped at boot, not failed.
ConditionPathExists=${p.venv}/bin/gunicorn
# Every deploy restarts it on purpose: systemd's default limit (5 starts in 10 s) refused the sixth
# of six quick deploys (measured: "start of the service was attempted too often"). A crash loop is
# paced by RestartSec below instead.
StartLimitIntervalSec=0

[Service]
Type=notify
User=${envUser(config, "%i")}
${config.isolation === "shared" ? "Group=www-data\n" : "# Its own group, not www-data's: that group may enter every environment's directory (nginx does).\n"}# The live path is a link to a release; systemd resolves it at each start, so a restart runs the
# release that is live now (a HUP would keep the old directory).
WorkingDirectory=${project.appDir ? `${p.dir}/${project.appDir}` : p.dir}
EnvironmentFile=${p.envFile}
# No --bind: gunicorn takes the listening socket systemd passes (LISTEN_FDS). No --workers: each
# environment's count is WEB_CONCURRENCY in its environment file.
ExecStart=${p.venv}/bin/gunicorn --access-logfile - --pythonpath ${releaseLibraryDir(config)} release_wsgi:application
ExecReload=/bin/kill -s HUP $MAINPID
KillMode=mixed
TimeoutStopSec=10
Restart=on-failure
RestartSec=1

[Install]
WantedBy=gunicorn.target
`;
}
