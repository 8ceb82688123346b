import { afterAll, afterEach, beforeAll } from "vitest";
import { parseKeepPolicy } from "../../harness/lifecycle/keep.ts";
import { streamLogger } from "../../harness/log.ts";
import { Testbed, type StartedTestbed } from "../../harness/testbed/testbed.ts";

export const log = streamLogger(process.stderr, { progress: false });

/** A fresh Testbed configured from the environment (TESTBED_BASE, TESTBED_KEEP). */
export function testbed(): Testbed {
  return new Testbed().withLogger(log).withKeep(parseKeepPolicy(process.env.TESTBED_KEEP));
}

/**
 * One testbed shared by the tests of a file: started before them, marked failed when one fails
 * (so TESTBED_KEEP=on-failure keeps it), disposed after them.
 */
export function sharedTestbed(prepare: (tb: StartedTestbed) => Promise<void> = async () => {}): () => StartedTestbed {
  let tb: StartedTestbed | undefined;
  beforeAll(async () => {
    tb = await testbed().start();
    try {
      await prepare(tb);
    } catch (err) {
      tb.markFailed();
      throw err;
    }
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") tb?.markFailed();
  });
  afterAll(async () => {
    await tb?.[Symbol.asyncDispose]();
  });
  return () => {
    if (!tb) throw new Error("the shared testbed did not start; see the beforeAll error above");
    return tb;
  };
}
