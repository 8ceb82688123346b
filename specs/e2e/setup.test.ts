import { describe, expect, inject, it } from "vitest";

// The global setup's outcome as a test of its own, so that a broken image build or provisioning is
// a named failed test in vitest's summary and in the JUnit report the GitLab gate publishes.
const failure = inject("setupFailure");

describe("global setup", () => {
  if (failure) {
    it(`${failure.step} failed`, () => {
      throw new Error(failure.message);
    });
  } else {
    it("built the images and the provisioned and deployed snapshots", () => {
      const snapshots = inject("snapshots");
      for (const stage of ["provisioned", "deployed"] as const) expect(snapshots[stage].appserver).toMatch(new RegExp(`appserver-${stage}:[0-9a-f]+$`));
    });
  }
});
