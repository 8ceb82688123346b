import { environments, type DeploymentConfig, DEFAULT_CONFIG } from "../domain/envs.ts";
import { selectedPlatform, suitePython } from "../images/base-platform.ts";
import { ensureImages } from "../images/catalog.ts";
import type { Logger } from "../plumbing/log.ts";
import { loadProject, ProjectError } from "../project/detect.ts";
import { preflightProject } from "../preflight/preflight.ts";
import { allowedHosts } from "../recipe/hosts.ts";

/**
 * `npm run sandbox -- check --project PATH`: what the harness detects in a project, what it sets,
 * and how each environment's settings fare, as the project's own Django evaluates them under that
 * environment's variables, in a container with no network (the app server's image, so the servers'
 * Python; the requirements from the wheelhouse, which names a line the package index cannot serve).
 * No server is started. `errors` counts the environments preflight refuses.
 */
export async function checkProject(dir: string, opts: { base?: string; config?: DeploymentConfig; log: Logger }): Promise<{ report: string; errors: number }> {
  let project;
  try {
    project = loadProject(dir);
  } catch (err) {
    if (err instanceof ProjectError) return { report: `Project ${dir}\n\nerror: ${err.message}`, errors: 1 };
    throw err;
  }
  const platform = selectedPlatform(opts.base);
  const images = await ensureImages({ base: opts.base, log: opts.log });
  const config = opts.config ?? DEFAULT_CONFIG;
  const result = await preflightProject(project, { image: images.appserver, envs: environments(config), allowedHosts: allowedHosts(), https: config.https, serverPython: suitePython(platform), log: opts.log });
  const refused = result.verdicts.filter((v) => v.outcome === "refused").length;
  return { report: `${result.report}\n\nPlatform: ${platform.spec}`, errors: refused };
}
