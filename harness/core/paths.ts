import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Where keys, the wheelhouse and other caches live; TESTBED_CACHE overrides. */
export function cacheDir(...parts: string[]): string {
  const root = process.env.TESTBED_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "django-deploy-testbed");
  return join(root, ...parts);
}
