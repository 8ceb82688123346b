import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { settings } from "./settings.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Where keys, the wheelhouse and other caches live; TESTBED_CACHE overrides. */
export function cacheDir(...parts: string[]): string {
  return join(settings().cacheRoot, ...parts);
}
