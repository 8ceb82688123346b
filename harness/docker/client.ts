import Docker from "dockerode";
import { settings } from "../plumbing/settings.ts";

let client: Docker | undefined;

/**
 * One dockerode client per process; honours DOCKER_HOST like the docker CLI does. Every container
 * the harness starts goes through here first, so the settings are in force (testcontainers told not
 * to start its reaper) before any container exists.
 */
export function docker(): Docker {
  if (!client) {
    settings();
    client = new Docker();
  }
  return client;
}

export async function engineAnswers(timeoutMs = 3000): Promise<boolean> {
  try {
    await Promise.race([
      docker().ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), timeoutMs).unref()),
    ]);
    return true;
  } catch {
    return false;
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number })?.statusCode === 404;
}
