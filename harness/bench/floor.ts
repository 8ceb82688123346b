import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import tar from "tar-fs";
import { request } from "undici";
import { docker } from "../docker/client.ts";
import { labelsFor, removeLabelled } from "../docker/labels.ts";
import { connectHost, publishHostIp } from "../docker/engine-address.ts";
import { environments } from "../domain/envs.ts";
import { envFile } from "../recipe/env-file.ts";
import { nginxSite } from "../recipe/nginx.ts";
import { gunicornSocket, gunicornTarget, gunicornTemplate } from "../recipe/units.ts";
import { DEFAULT_CONFIG } from "../domain/envs.ts";
import { loadProject } from "../project/detect.ts";
import { releaseLibraryDir, releaseWsgiPath, releaseWsgiSource } from "../release/tool.ts";
import { hostFlags, systemdRunSettings } from "../docker/container-flags.ts";
import { parsePythonTarget, PYTHON_TARGET_PROBE, type PythonTarget } from "../images/wheelhouse.ts";

/**
 * The floor: the same irreducible work as the sandbox path (start the same two servers, create the
 * venvs, pip install from the same wheelhouse, migrate, collectstatic, start gunicorn, until every
 * site answers), done by plain engine calls and one shell script per server, with no harness,
 * ssh, job containers or checks in between. Returns its wall time.
 */
// The floor runs every environment as the seed's one user: the least work a deployment can do.
const FLOOR_CONFIG = { ...DEFAULT_CONFIG, isolation: "shared" as const };

export async function floorRun(
  images: { appserver: string; dbserver: string },
  projectDir: string,
  /** The wheelhouse for the app server's Python (read from it once it runs: the platform decides). */
  wheelhouseFor: (target: PythonTarget) => Promise<string>,
): Promise<number> {
  const id = `ddt-bench-${randomBytes(3).toString("hex")}`;
  const labels = labelsFor(id, "bench");
  const envs = environments();
  const project = loadProject(projectDir);
  const d = docker();
  // The same settings as the testbed's servers (systemd ≥ 256 on cgroup v1 needs init's argument).
  const run = systemdRunSettings((await hostFlags()).flags);
  const started = Date.now();
  try {
    const net = `${id}-net`;
    await d.createNetwork({ Name: net, Labels: labels });
    const create = (role: "app" | "db", image: string, alias: string, ports: number[]) =>
      d.createContainer({
        name: `${id}-${role}`,
        Image: image,
        Hostname: alias,
        Labels: labels,
        ...(run.cmd ? { Cmd: run.cmd } : {}),
        ExposedPorts: Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}])),
        HostConfig: {
          CapAdd: run.capAdd,
          SecurityOpt: run.securityOpt,
          CgroupnsMode: run.cgroupns,
          Binds: run.binds.map((b) => `${b.source}:${b.target}:${b.mode}`),
          Tmpfs: run.tmpfs,
          NetworkMode: net,
          PortBindings: Object.fromEntries(ports.map((p) => [`${p}/tcp`, [{ HostIp: publishHostIp(), HostPort: "0" }]])),
        } as never,
        NetworkingConfig: { EndpointsConfig: { [net]: { Aliases: [alias] } } },
      });
    const [app, db] = await Promise.all([create("app", images.appserver, "myappserver", envs.map((e) => e.port)), create("db", images.dbserver, "mydatabaseserver", [])]);
    // The code goes in before start, the wheels just after, into paths that are not tmpfs.
    await app.putArchive(tar.pack(projectDir, { map: (h) => ({ ...h, name: `srv/src/myproject/${h.name}` }) }) as never, { path: "/" });
    await Promise.all([app.start(), db.start()]);
    const exec = async (c: typeof app, script: string) => {
      const e = await c.exec({ Cmd: ["bash", "-c", script], AttachStdout: true, AttachStderr: true });
      const stream = await e.start({});
      const out = new PassThrough();
      let text = "";
      out.on("data", (b: Buffer) => (text += b.toString()));
      d.modem.demuxStream(stream, out, out);
      await new Promise((r) => stream.on("end", r));
      const { ExitCode } = await e.inspect();
      if (ExitCode !== 0) throw new Error(`floor: script failed (${ExitCode}): ${text.slice(-2000)}`);
      return text;
    };
    const wheelhouse = await wheelhouseFor(parsePythonTarget(await exec(app, PYTHON_TARGET_PROBE)));
    await app.putArchive(tar.pack(wheelhouse, { map: (h) => ({ ...h, name: `srv/wheelhouse/${h.name}` }) }) as never, { path: "/" });
    const until = "for i in $(seq 400); do s=$(systemctl is-system-running 2>/dev/null); [ \"$s\" = running ] && break; sleep 0.05; done";
    const password = "floor-password";
    const dbScript = [
      until,
      "pg_conftool set listen_addresses '*' && systemctl restart postgresql",
      "for i in $(seq 200); do pg_isready -q && break; sleep 0.05; done",
      ...envs.map((e) => `sudo -u postgres psql -qc "CREATE ROLE ${e.role} LOGIN PASSWORD '${password}'" && sudo -u postgres psql -qc "CREATE DATABASE ${e.database} OWNER ${e.role}"`),
      `ip=$(getent ahostsv4 myappserver | awk 'NR==1{print $1}'); echo "host all all $ip/32 scram-sha-256" >> $(sudo -u postgres psql -Atc 'SHOW hba_file') && sudo -u postgres psql -qc 'SELECT pg_reload_conf()'`,
    ].join("\n");
    const u = DEFAULT_CONFIG.deployUser;
    const secrets = { secretKey: "floor-secret-key-floor-secret-key-floor-secret", dbPassword: password };
    const heredoc = (path: string, text: string) => `cat > ${path} <<'EOF_FLOOR'\n${text}EOF_FLOOR`;
    const sh = (e: (typeof envs)[number], cmd: string) => `sudo -u ${u} bash -c 'set -a && . ${e.envFile} && set +a && cd ${e.dir} && ${cmd}'`;
    const appPrep = [
      until,
      `adduser --disabled-password --gecos '' ${u} >/dev/null && chmod 711 /home/${u}`,
      heredoc("/etc/systemd/system/gunicorn.target", gunicornTarget()),
      heredoc("/etc/systemd/system/gunicorn@.service", gunicornTemplate(FLOOR_CONFIG, project)),
      `mkdir -p ${releaseLibraryDir(DEFAULT_CONFIG)} && ` + heredoc(releaseWsgiPath(DEFAULT_CONFIG), releaseWsgiSource()),
      heredoc("/etc/systemd/system/gunicorn@.socket", gunicornSocket(FLOOR_CONFIG)),
      ...envs.map((e) => heredoc(`/etc/nginx/sites-enabled/${e.site}`, nginxSite(e, project))),
      ...envs.map((e) => `mkdir -p ${e.releases} ${e.venvs} && ` + heredoc(e.envFile, envFile(e, secrets, "mydatabaseserver", ["127.0.0.1", "localhost", "myappserver"], project))),
      // The release layout at its simplest: one release, its venv, and the live link.
      // nginx serves /static/ from the release's `.static` link, which collectstatic's step makes.
      ...envs.map((e) => `cp -r /srv/src/myproject ${e.releases}/floor && ln -s static ${e.releases}/floor/.static && ln -s releases/floor ${e.dir} && ln -s ../../venvs/floor ${e.venv}`),
      `chown -R ${u}:${u} /home/${u}`,
      ...envs.map((e) => `(${sh(e, `python3 -m venv --without-pip ${e.venvs}/floor && python3 -m pip --python ${e.venv}/bin/python install -q --no-index --find-links /srv/wheelhouse -r requirements.txt`)}) &`),
      "wait",
    ].join("\n");
    const appDeploy = [
      ...envs.map((e) => `(${sh(e, `${e.venv}/bin/python manage.py migrate --noinput -v0 && ${e.venv}/bin/python manage.py collectstatic --noinput -v0`)}) &`),
      "wait",
      `systemctl daemon-reload && systemctl start gunicorn.target ${envs.map((e) => e.unit).join(" ")} && systemctl reload nginx`,
    ].join("\n");
    // Only migrate needs the database: everything before it runs beside the database's setup.
    await Promise.all([exec(db, dbScript), exec(app, appPrep)]);
    await exec(app, appDeploy);
    const info = await app.inspect();
    for (const e of envs) {
      const port = info.NetworkSettings.Ports[`${e.port}/tcp`]?.[0]?.HostPort;
      for (let i = 0; ; i++) {
        const r = await request(`http://${connectHost()}:${port}/`).catch(() => undefined);
        const ok = r !== undefined && r.statusCode < 500;
        await r?.body.dump();
        if (ok) break;
        if (i > 600) throw new Error(`floor: ${e.name} never answered`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    return Date.now() - started;
  } finally {
    await removeLabelled({ testbed: id });
  }
}
