import Docker from "dockerode";

// The reaper image cannot be pulled here; cleanup is done by our own labels instead.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";

let client: Docker | undefined;

/** One dockerode client per process; honours DOCKER_HOST like the docker CLI does. */
export function docker(): Docker {
  client ??= new Docker();
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
