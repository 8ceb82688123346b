import type { StepTiming } from "../lifecycle/runner.ts";
import { concurrently, runSteps } from "../lifecycle/runner.ts";
import type { StartedTestbed } from "../testbed/testbed.ts";
import { appSteps } from "./app-steps.ts";
import { closeContext, openContext, type RecipeContext, type RecipeOptions } from "./context.ts";
import { dbSteps } from "./db-steps.ts";
import { deploySteps } from "./deploy-steps.ts";

/** The database server and the app server are set up side by side: neither needs the other yet. */
export const provisionSteps = [concurrently("provision both servers", "provision", [dbSteps, appSteps])];

export interface RecipeReport {
  timings: StepTiming[];
  /** Migrations applied per environment by this run. */
  applied: RecipeContext["applied"];
  /** Environments whose gunicorn was restarted because something changed. */
  restarted: string[];
}

/** Provisions both servers and deploys the project directly (the seed's manual deployment). */
export async function runRecipe(tb: StartedTestbed, opts: RecipeOptions, which: { deploy?: boolean } = {}): Promise<RecipeReport> {
  const ctx = await openContext(tb, opts);
  try {
    const steps = which.deploy === false ? provisionSteps : [...provisionSteps, ...deploySteps];
    const timings = await runSteps(steps, ctx, ctx.log);
    return { timings, applied: ctx.applied, restarted: [...ctx.changed] };
  } finally {
    closeContext(ctx);
  }
}
