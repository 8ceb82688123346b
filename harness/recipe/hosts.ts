import { SERVER_ALIASES } from "../testbed/server.ts";

/** Where Django finds its database: the database server's name on the testbed's network. */
export const DB_HOST = SERVER_ALIASES.db;

/** The hosts Django answers to: loopback (through nginx's published port) and the server's name. */
export const ALLOWED_HOSTS = ["127.0.0.1", "localhost", SERVER_ALIASES.app];
