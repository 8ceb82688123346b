import type { StepTiming } from "../lifecycle/steps.ts";
import { concurrently, runSteps, type Step } from "../lifecycle/steps.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";
import { appSteps } from "./app-steps.ts";
import { closeContext, openContext, type RecipeContext, type RecipeOptions } from "./context.ts";
import { dbSteps } from "./db-steps.ts";
import { deploySteps } from "./deploy-steps.ts";
import { projectSteps } from "./project-steps.ts";

/**
 * The project's preflight first; then the database server and the app server side by side:
 * neither needs the other yet.
 */
const provisionSteps = [...projectSteps, concurrently("provision both servers", "provision", [dbSteps, appSteps])];

export interface RecipeReport {
  timings: StepTiming[];
  /** Migrations applied per environment by this run. */
  applied: RecipeContext["applied"];
  /** Environments whose gunicorn was restarted (a new release, or changed settings). */
  restarted: string[];
}

async function run(tb: StartedTestbed, opts: RecipeOptions, steps: (ctx: RecipeContext) => ReadonlyArray<Step<RecipeContext>>): Promise<RecipeReport> {
  const ctx = await openContext(tb, opts);
  try {
    const timings = await runSteps(steps(ctx), ctx, ctx.log);
    return { timings, applied: ctx.applied, restarted: [...ctx.restarted] };
  } finally {
    closeContext(ctx);
  }
}

/** The one-time setup of both servers (users, directories, units, sites, databases, release tool). */
export function provision(tb: StartedTestbed, opts: RecipeOptions): Promise<RecipeReport> {
  return run(tb, opts, () => provisionSteps);
}

/** Provisions both servers and deploys the project as a new release (the seed's manual deployment). */
export function provisionAndDeploy(tb: StartedTestbed, opts: RecipeOptions): Promise<RecipeReport> {
  return run(tb, opts, (ctx) => [...provisionSteps, ...deploySteps(ctx.hooks)]);
}

/** Deploys the project as a new release on provisioned servers (what the pipeline does from CI). */
export function deploy(tb: StartedTestbed, opts: RecipeOptions): Promise<RecipeReport> {
  return run(tb, opts, (ctx) => [...projectSteps, ...deploySteps(ctx.hooks)]);
}
