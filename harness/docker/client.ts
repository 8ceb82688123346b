import Docker from "dockerode";

let client: Docker | undefined;

/**
 * One dockerode client per process; honours DOCKER_HOST like the docker CLI does. Every container
 * the harness starts goes through here first, so this is where testcontainers is told not to start
 * its reaper (its image cannot be pulled here; cleanup is done by our own labels instead).
 */
export function docker(): Docker {
  if (!client) {
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
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
