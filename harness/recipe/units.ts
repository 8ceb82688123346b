import type { DeploymentConfig, Environment } from "../envs.ts";

/**
 * gunicorn.target and the template unit gunicorn@.service, as in the seed but correct:
 * an absolute WorkingDirectory (the seed's `~/home/...` is not a path systemd accepts),
 * the environment file for secrets, and the socket inside the project directory.
 */
export function gunicornTarget(): string {
  return `[Unit]
Description=Gunicorn: every environment's app server, started and stopped together

[Install]
WantedBy=multi-user.target
`;
}

export function gunicornTemplate(config: DeploymentConfig, envs: Environment[]): string {
  // %i is the environment name; every path below is the environment table's, with the name replaced by %i.
  const sample = envs[0]!;
  const t = (path: string) => path.replace(`/${sample.name}/`, "/%i/");
  return `[Unit]
Description=gunicorn daemon for ${config.project} (%i)
After=network.target
PartOf=gunicorn.target
# Since systemd 235 reloading the target passes through to the instances.
ReloadPropagatedFrom=gunicorn.target
# Provisioned but not deployed yet (no gunicorn in the venv): skipped at boot, not failed.
ConditionPathExists=${t(sample.venv)}/bin/gunicorn

[Service]
Type=notify
User=${config.deployUser}
Group=www-data
WorkingDirectory=${t(sample.dir)}
EnvironmentFile=${t(sample.envFile)}
ExecStart=${t(sample.venv)}/bin/gunicorn --access-logfile - --workers 2 --bind unix:${t(sample.socket)} ${config.project}.wsgi:application
ExecReload=/bin/kill -s HUP $MAINPID
KillMode=mixed
TimeoutStopSec=10
Restart=on-failure

[Install]
WantedBy=gunicorn.target
`;
}
