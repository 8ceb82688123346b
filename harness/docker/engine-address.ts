import { isIP } from "node:net";
import { settings, type Settings } from "../plumbing/settings.ts";

/** What says where the engine is: DOCKER_HOST and TESTCONTAINERS_HOST_OVERRIDE, as settings. */
type EngineAddress = Pick<Settings, "dockerHost" | "hostOverride">;

/** The engine's host when DOCKER_HOST is tcp://host:port; undefined for a local socket. */
export function engineTcpHost(dockerHost = settings().dockerHost): string | undefined {
  if (!dockerHost || !/^tcp:\/\//.test(dockerHost)) return undefined;
  return new URL(dockerHost.replace(/^tcp:/, "http:")).hostname.replace(/^\[|\]$/g, "");
}

/**
 * Where published ports live, and where the harness connects to them. A local engine: publish on
 * loopback only and connect to 127.0.0.1. A remote engine (DOCKER_HOST=tcp://host:port): its ports
 * are on its host, so connect there. In docker-in-docker (GitLab CI) the engine is another container
 * whose "host" is private to the job, named by TESTCONTAINERS_HOST_OVERRIDE (e.g. `docker`).
 */
export function connectHost(s: EngineAddress = settings()): string {
  return s.hostOverride || engineTcpHost(s.dockerHost) || "127.0.0.1";
}

/**
 * The address ports are published on: loopback for a local engine; the engine's own address when
 * DOCKER_HOST names it by IP (only that interface, e.g. 127.0.0.2); all interfaces of a dind
 * service or an engine known only by name, whose network is the job's or the engine's own.
 */
export function publishHostIp(s: EngineAddress = settings()): string {
  if (s.hostOverride) return "0.0.0.0";
  const tcp = engineTcpHost(s.dockerHost);
  if (!tcp) return "127.0.0.1";
  return isIP(tcp) ? tcp : "0.0.0.0";
}
