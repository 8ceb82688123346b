import { beforeEach, inject } from "vitest";

// Loaded before every e2e spec file: when the global setup failed, its own test (setup.test.ts)
// says why, and every other test is skipped instead of failing for the same reason a hundred times.
beforeEach((ctx) => {
  const failure = inject("setupFailure");
  if (failure && !ctx.task.file.name.endsWith("setup.test.ts")) ctx.skip(`the global setup failed at ${failure.step}`);
});
