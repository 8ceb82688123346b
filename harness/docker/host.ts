import { isIP } from "node:net";

/** The engine's host when DOCKER_HOST is tcp://host:port; undefined for a local socket. */
export function engineTcpHost(dockerHost = process.env.DOCKER_HOST): string | undefined {
  if (!dockerHost || !/^tcp:\/\//.test(dockerHost)) return undefined;
  return new URL(dockerHost.replace(/^tcp:/, "http:")).hostname.replace(/^\[|\]$/g, "");
}

/**
 * Where published ports live, and where the harness connects to them. A local engine: publish on
 * loopback only and connect to 127.0.0.1. A remote engine (DOCKER_HOST=tcp://host:port): its ports
 * are on its host, so connect there. In docker-in-docker (GitLab CI) the engine is another container
 * whose "host" is private to the job, named by TESTCONTAINERS_HOST_OVERRIDE (e.g. `docker`).
 */
export function connectHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.TESTCONTAINERS_HOST_OVERRIDE || engineTcpHost(env.DOCKER_HOST) || "127.0.0.1";
}

/**
 * The address ports are published on: loopback for a local engine; the engine's own address when
 * DOCKER_HOST names it by IP (only that interface, e.g. 127.0.0.2); all interfaces of a dind
 * service or an engine known only by name, whose network is the job's or the engine's own.
 */
export function publishHostIp(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TESTCONTAINERS_HOST_OVERRIDE) return "0.0.0.0";
  const tcp = engineTcpHost(env.DOCKER_HOST);
  if (!tcp) return "127.0.0.1";
  return isIP(tcp) ? tcp : "0.0.0.0";
}
