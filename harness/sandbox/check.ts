import { arch } from "node:os";
import type { Logger } from "../plumbing/log.ts";
import { selectedPlatform, suitePython } from "../images/base-platform.ts";
import { ensureWheelhouse, WheelhouseError } from "../images/wheelhouse.ts";
import { loadProject, ProjectError } from "../project/detect.ts";
import { preflight, preflightReport, type Problem } from "../project/preflight.ts";
import { allowedHosts } from "../recipe/hosts.ts";

/**
 * `npm run sandbox -- check --project PATH`: what the harness detects in a project, what it sets,
 * and each problem, without any server: preflight's checks, and the wheelhouse for the platform's
 * Python, which names a requirement the package index cannot serve by its file and line.
 */
export async function checkProject(dir: string, opts: { base?: string; log: Logger }): Promise<{ report: string; errors: number }> {
  let project;
  try {
    project = loadProject(dir);
  } catch (err) {
    if (err instanceof ProjectError) return { report: `Project ${dir}\n\nerror: ${err.message}`, errors: 1 };
    throw err;
  }
  const platform = selectedPlatform(opts.base);
  const python = suitePython(platform);
  const problems: Problem[] = python ? preflight(project, { serverPython: python, allowedHosts: allowedHosts() }) : [];
  if (python) {
    const machine = arch() === "arm64" ? "aarch64" : "x86_64";
    try {
      await ensureWheelhouse(project, { version: python, machine }, opts.log);
    } catch (err) {
      if (!(err instanceof WheelhouseError)) throw err;
      for (const r of err.unservable) problems.push({ severity: "error", text: `${r.where}: ${r.line}: the package index cannot serve it for Python ${python}: change that line, or add the package to the index.` });
      if (!err.unservable.length) problems.push({ severity: "error", text: err.message });
    }
  } else {
    problems.push({ severity: "warning", text: `${platform.spec}: its Python is known only once a server runs; the version and requirements checks run at the deploy.` });
  }
  const report = preflightReport(project, problems);
  return { report: `${report}\n\nPlatform: ${platform.spec}${python ? `, Python ${python}` : ""}`, errors: problems.filter((p) => p.severity === "error").length };
}
