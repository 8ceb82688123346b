import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { engineAnswers } from "./client.ts";
import { waitFor } from "../plumbing/deadline.ts";
import { formatDuration, type Logger } from "../plumbing/log.ts";
import { childEnv, settings } from "../plumbing/settings.ts";

export class EngineError extends Error {
  override name = "EngineError";
}

const DOCKERD_LOG = "/var/log/django-deploy-testbed-dockerd.log";

function where(): string {
  const { dockerHost } = settings();
  return dockerHost ? `DOCKER_HOST=${dockerHost}` : "/var/run/docker.sock";
}

function canInstall(): string | undefined {
  if (settings().noInstall) return "TESTBED_NO_INSTALL=1 forbids installing one";
  if (settings().dockerHost) return "DOCKER_HOST points elsewhere, so a local engine would not be used";
  if (process.platform !== "linux") return `this is ${process.platform}, not Linux`;
  if (process.getuid?.() !== 0) return "installing one needs root";
  if (!existsSync("/usr/bin/apt-get")) return "there is no apt-get to install docker.io with";
  return undefined;
}

function aptInstall(packages: string[], log: Logger): void {
  log.info(`engine: apt-get install ${packages.join(" ")}`);
  const env = childEnv({ DEBIAN_FRONTEND: "noninteractive" });
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", ...packages]]) {
    const r = spawnSync("apt-get", args, { env, encoding: "utf8" });
    if (r.status !== 0) {
      throw new EngineError(`engine: 'apt-get ${args.join(" ")}' failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join("\n")}`);
    }
  }
}

/**
 * Makes sure a Docker engine answers: a no-op when one does; on Debian as root, installs
 * docker.io and starts dockerd; anywhere else, one clear error saying what to do. `debootstrap`:
 * the servers' platform is built here (the caller knows the platform; the engine does not), so
 * debootstrap is installed along with the engine.
 */
export async function ensureEngine(log: Logger, opts: { timeoutMs?: number; debootstrap: boolean }): Promise<void> {
  const needDebootstrap = opts.debootstrap && !existsSync("/usr/sbin/debootstrap");
  if (await engineAnswers()) {
    if (needDebootstrap && canInstall() === undefined) aptInstall(["debootstrap"], log);
    return;
  }
  const refusal = canInstall();
  if (refusal) {
    throw new EngineError(
      `No Docker engine answers at ${where()}, and this script cannot start one: ${refusal}. ` +
        `Start a Docker engine (e.g. 'sudo systemctl start docker', or install Docker Engine), then run the command again.`,
    );
  }
  const started = Date.now();
  const missing = [...(existsSync("/usr/sbin/dockerd") ? [] : ["docker.io"]), ...(needDebootstrap ? ["debootstrap"] : [])];
  if (missing.length) aptInstall(missing, log);
  if (existsSync("/run/systemd/system")) {
    log.info("engine: systemctl start docker");
    spawnSync("systemctl", ["start", "docker"], { stdio: "ignore" });
  } else {
    log.info(`engine: starting dockerd (log: ${DOCKERD_LOG})`);
    const out = openSync(DOCKERD_LOG, "a");
    // Detached, so the engine outlives this command and serves the test run that follows.
    spawn("/usr/sbin/dockerd", [], { detached: true, stdio: ["ignore", out, out] }).unref();
  }
  await waitFor("engine: dockerd did not answer", async () => ((await engineAnswers(1000)) ? true : undefined), {
    timeoutMs: opts.timeoutMs ?? 60_000,
    describe: () => (existsSync(DOCKERD_LOG) ? `last log lines:\n${readFileSync(DOCKERD_LOG, "utf8").trim().split("\n").slice(-8).join("\n")}` : ""),
  }).catch((err: Error) => {
    throw new EngineError(`${err.message}\nSee ${DOCKERD_LOG}, fix what it says, then run again.`);
  });
  log.info(`engine: answering after ${formatDuration(Date.now() - started)}`);
}
