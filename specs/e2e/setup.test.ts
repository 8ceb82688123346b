import { describe, expect, inject, it } from "vitest";
import { selectedPlatform } from "../../harness/images/base-platform.ts";

// The global setup's outcome as a test of its own, so that a broken image build or provisioning is
// a named failed test in vitest's summary and in the JUnit report the GitLab gate publishes.
const failure = inject("setupFailure");

describe("global setup", () => {
  if (failure) {
    it(`${failure.step} failed`, () => {
      throw new Error(failure.message);
    });
  } else {
    it("built the images and the provisioned and deployed snapshots, for the platform asked for", () => {
      const snapshots = inject("snapshots");
      const slug = selectedPlatform().slug;
      for (const stage of ["provisioned", "deployed"] as const) {
        for (const server of ["appserver", "dbserver"] as const) expect(snapshots[stage][server]).toMatch(new RegExp(`${server}-${stage}:${slug}-[0-9a-f]+$`));
      }
    });
  }
});
