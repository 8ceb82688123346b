import type { Step } from "../lifecycle/steps.ts";
import { parsePythonTarget, PYTHON_TARGET_PROBE } from "../images/wheelhouse.ts";
import { ProjectError } from "../project/detect.ts";
import { preflightProject, refusals } from "../preflight/preflight.ts";
import type { RecipeContext } from "./context.ts";
import { allowedHosts } from "./hosts.ts";

/**
 * The project's preflight, before the recipe writes anything: the evaluation `npm run sandbox --
 * check` makes (each environment's settings loaded by the project's own Django, in a container with
 * no network), for the environments this run sets up. An error in one of them stops the run, named,
 * before any server changes; warnings are logged.
 */
export const projectSteps: Step<RecipeContext>[] = [
  {
    name: "preflight: the project",
    phase: "provision",
    async run(ctx) {
      const serverPython = parsePythonTarget((await ctx.app.run(PYTHON_TARGET_PROBE)).stdout).version;
      const result = await preflightProject(ctx.project, { image: ctx.tb.images.appserver, envs: ctx.envs, allowedHosts: allowedHosts(), https: ctx.tb.config.https, serverPython, log: ctx.log });
      for (const p of result.problems.filter((p) => p.severity === "warning")) ctx.log.info(`preflight: warning: ${p.text}`);
      const errors = refusals(result, ctx.envs.map((e) => e.name));
      if (errors.length) {
        const allowed = result.verdicts.filter((v) => v.outcome === "allowed").map((v) => v.env);
        throw new ProjectError(
          `the project ${ctx.project.dir} cannot be deployed as it is to ${[...new Set(errors.map((p) => p.text.split(":")[0]))].join(", ")}; nothing was changed on the servers:\n${errors.map((p) => `  ${p.text}`).join("\n")}\n` +
            (allowed.length ? `Preflight allows ${allowed.join(", ")}: deploy those alone (--env ${allowed.join(",")}), or fix the above. ` : "") +
            `npm run sandbox -- check --project ${ctx.project.dir} reports the same.`,
        );
      }
    },
  },
];
