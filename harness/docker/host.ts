/**
 * Where published ports live. Locally the engine runs on this machine: publish on loopback only
 * and connect to 127.0.0.1. In docker-in-docker (GitLab CI) the engine is another container whose
 * "host" is private to the job: publish there on all its interfaces and connect to it by name
 * (TESTCONTAINERS_HOST_OVERRIDE, e.g. `docker`).
 */
export function connectHost(): string {
  return process.env.TESTCONTAINERS_HOST_OVERRIDE || "127.0.0.1";
}

export function publishHostIp(): string {
  return process.env.TESTCONTAINERS_HOST_OVERRIDE ? "0.0.0.0" : "127.0.0.1";
}
