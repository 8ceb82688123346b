import { connectHost } from "../docker/engine-address.ts";
import { SERVER_ALIASES } from "../testbed/server.ts";

/** Where Django finds its database: the database server's name on the testbed's network. */
export const DB_HOST = SERVER_ALIASES.db;

/**
 * The hosts Django answers to: loopback and the engine's host (where nginx's ports are published and
 * people and probes connect: `docker` in dind, 127.0.0.2 for an engine there), and the server's name.
 */
export function allowedHosts(): string[] {
  return [...new Set(["127.0.0.1", "localhost", connectHost(), SERVER_ALIASES.app])];
}
