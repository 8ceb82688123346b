import { defineConfig } from "vitest/config";

// The unit specs alone, for Stryker (npm run mutate): each mutant of the pure modules is judged by
// the specs that would notice it, never by servers.
export default defineConfig({
  test: {
    include: ["harness/**/*.test.ts", "specs/unit/**/*.test.ts"],
    // The release tool's own specs run python, not the TypeScript that is mutated: left out for speed.
    exclude: ["release-tool/**", "node_modules/**"],
    // As the unit project's (vitest.config.ts): a deadline for a hung test, not a speed target.
    testTimeout: 30_000,
  },
});
