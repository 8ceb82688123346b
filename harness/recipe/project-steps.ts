import type { Step } from "../lifecycle/steps.ts";
import { parsePythonTarget, PYTHON_TARGET_PROBE } from "../images/wheelhouse.ts";
import { ProjectError } from "../project/detect.ts";
import { preflight } from "../project/preflight.ts";
import type { RecipeContext } from "./context.ts";
import { allowedHosts } from "./hosts.ts";

/**
 * The project's preflight, before the recipe writes anything: the same checks as
 * `npm run sandbox -- check`, with the app server's own Python. Errors stop the run, each named;
 * warnings are logged.
 */
export const projectSteps: Step<RecipeContext>[] = [
  {
    name: "preflight: the project",
    phase: "provision",
    async run(ctx) {
      const python = parsePythonTarget((await ctx.app.run(PYTHON_TARGET_PROBE)).stdout).version;
      const problems = preflight(ctx.project, { serverPython: python, allowedHosts: allowedHosts() });
      for (const p of problems.filter((p) => p.severity === "warning")) ctx.log.info(`preflight: warning: ${p.text}`);
      const errors = problems.filter((p) => p.severity === "error");
      if (errors.length) {
        throw new ProjectError(
          `the project ${ctx.project.dir} cannot be deployed as it is; nothing was changed on the servers:\n${errors.map((p) => `  ${p.text}`).join("\n")}\n` +
            `npm run sandbox -- check --project ${ctx.project.dir} reports the same.`,
        );
      }
    },
  },
];
