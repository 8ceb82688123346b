import { defineConfig } from "vitest/config";
import { WeightedSequencer } from "./specs/sequencer.ts";

// Unit specs are pure and fast; e2e specs start real servers, so they get long timeouts and
// a global setup that builds images once and sweeps what a killed run left behind. Both run in one
// group: the unit specs take a few seconds of one core while the first e2e testbeds boot.
export default defineConfig({
  test: {
    reporters: ["default", "junit"],
    // `npm test -- --shard=i/n` splits by measured time (specs/shard-weights.json), not file count.
    sequence: { sequencer: WeightedSequencer },
    outputFile: { junit: "reports/junit.xml" },
    projects: [
      {
        test: {
          name: "unit",
          sequence: { groupOrder: 0 },
          include: ["harness/**/*.test.ts", "specs/unit/**/*.test.ts", "release-tool/tests/**/*.test.ts"],
          // The release tool's specs start python3 dozens of times per test: 1-2 s alone, but 5-7 s
          // (vitest's default limit) on a 2-core machine while e2e servers boot beside them. A limit
          // is a deadline for a hung test, not a speed target (those are in npm run bench).
          testTimeout: 30_000,
          isolate: false,
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: "e2e",
          sequence: { groupOrder: 0 },
          include: ["specs/e2e/**/*.test.ts"],
          globalSetup: ["specs/e2e/global-setup.ts"],
          setupFiles: ["specs/e2e/setup-guard.ts"],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          pool: "forks",
          // Files share a worker's module graph: the harness (testcontainers, dockerode, ssh2) is
          // imported once per worker, not per file (vitest's import time 11 s → 5 s). No spec
          // mocks modules or changes process.env, so nothing leaks from one file to the next.
          isolate: false,
          maxWorkers: 2,
        },
      },
    ],
  },
});
