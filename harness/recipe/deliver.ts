import type { DeploymentConfig } from "../envs.ts";

/**
 * What code delivery (the recipe's sync and the pipeline's rsync) must never touch on the server:
 * the venv, collected static files, the socket. Anchored to the project root. rsync's --delete
 * leaves excluded paths alone, so these survive every deploy.
 */
export function syncExcludes(config: DeploymentConfig): string[] {
  return [".git*", `/${config.project}env/`, "/static/", `/${config.project}.sock`, "__pycache__/"];
}

/** The hosts Django answers to: loopback (through nginx's published port) and the server's name. */
export const ALLOWED_HOSTS = ["127.0.0.1", "localhost", "myappserver"];
