import { describe, expect, it } from "vitest";
import { parseKeepPolicy, shouldKeep } from "./keep.ts";

describe("keep policy", () => {
  it("keeps only as the policy says", () => {
    expect([shouldKeep("never", false), shouldKeep("never", true)]).toEqual([false, false]);
    expect([shouldKeep("on-failure", false), shouldKeep("on-failure", true)]).toEqual([false, true]);
    expect([shouldKeep("always", false), shouldKeep("always", true)]).toEqual([true, true]);
  });
  it("parses the variable and names a bad value", () => {
    expect(parseKeepPolicy(undefined)).toBe("never");
    expect(parseKeepPolicy("on-failure")).toBe("on-failure");
    expect(() => parseKeepPolicy("sometimes")).toThrow(/TESTBED_KEEP="sometimes": unknown keep policy/);
  });
});
