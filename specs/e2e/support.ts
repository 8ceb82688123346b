import { afterAll, beforeAll, it } from "vitest";
import { FIXTURE_DIR } from "../../harness/fixture.ts";
import { parseKeepPolicy } from "../../harness/lifecycle/keep.ts";
import { streamLogger } from "../../harness/log.ts";
import { diagnostics } from "../../harness/probes/diagnostics.ts";
import { runRecipe, type RecipeReport } from "../../harness/recipe/recipe.ts";
import type { RecipeOptions } from "../../harness/recipe/context.ts";
import { Testbed, type StartedTestbed } from "../../harness/testbed/testbed.ts";

export const log = streamLogger(process.stderr, { progress: false });

/** A fresh Testbed configured from the environment (TESTBED_BASE, TESTBED_KEEP). */
export function testbed(): Testbed {
  const tb = new Testbed().withLogger(log).withKeep(parseKeepPolicy(process.env.TESTBED_KEEP));
  return process.env.TESTBED_BASE ? tb.withBase(process.env.TESTBED_BASE) : tb;
}

export interface Shared {
  tb: StartedTestbed;
  report?: RecipeReport;
}

/**
 * One testbed shared by the tests of a file: started (and prepared) before them, disposed after
 * them by the keep policy, and marked failed when any test fails.
 */
export function sharedTestbed(prepare: (tb: StartedTestbed) => Promise<RecipeReport | void> = async () => {}): () => Shared {
  let shared: Shared | undefined;
  let started: StartedTestbed | undefined;
  beforeAll(async () => {
    started = await testbed().start();
    try {
      shared = { tb: started, report: (await prepare(started)) ?? undefined };
    } catch (err) {
      started.markFailed();
      throw await withDiagnostics(started, err);
    }
  });
  afterAll(async () => {
    await started?.[Symbol.asyncDispose]();
  });
  return () => {
    if (!shared) throw new Error("the shared testbed did not start; see the beforeAll error above");
    return shared;
  };
}

/** A testbed provisioned and deployed by the recipe, with the sample project. */
export function recipeTestbed(opts: Partial<RecipeOptions> = {}): () => Shared {
  return sharedTestbed((tb) => runRecipe(tb, { projectDir: FIXTURE_DIR, log, ...opts }));
}

/** Appends the servers' journals, nginx errors and failed units to an error's message. */
export async function withDiagnostics(tb: StartedTestbed, err: unknown): Promise<unknown> {
  if (err instanceof Error && !err.message.includes("--- journalctl")) {
    err.message += `\n\nDiagnostics from testbed ${tb.id}:\n${await diagnostics(tb)}`;
  }
  return err;
}

/** A test on a shared testbed: on failure it carries diagnostics and marks the testbed failed. */
export function onTestbed(get: () => Shared, name: string, fn: (s: Shared) => Promise<void>, timeout?: number): void {
  it(name, async () => {
    const s = get();
    try {
      await fn(s);
    } catch (err) {
      s.tb.markFailed();
      throw await withDiagnostics(s.tb, err);
    }
  }, timeout);
}
