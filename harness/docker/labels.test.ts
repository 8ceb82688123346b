import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { isAbandoned, LABEL, labelsFor } from "./labels.ts";

describe("labels", () => {
  it("marks what this process creates as its own, and so not abandoned", () => {
    const l = labelsFor("ddt-test-abc", "test");
    expect(l[LABEL.testbed]).toBe("ddt-test-abc");
    expect(l[LABEL.owner]).toBe(`${hostname()}:${process.env.TESTBED_OWNER_PID ?? process.pid}`);
    expect(isAbandoned(l)).toBe(false);
  });
  it("treats a dead owner's resources as abandoned unless kept", () => {
    const dead = { [LABEL.owner]: `${hostname()}:2147483646`, [LABEL.created]: String(Date.now()) };
    expect(isAbandoned(dead)).toBe(true);
    expect(isAbandoned({ ...dead, [LABEL.keep]: "always" })).toBe(false);
    expect(isAbandoned({ ...dead, [LABEL.keep]: "never" })).toBe(true);
  });
  it("leaves another machine's recent resources alone", () => {
    const other = { [LABEL.owner]: "elsewhere:1", [LABEL.created]: String(Date.now()) };
    expect(isAbandoned(other)).toBe(false);
    expect(isAbandoned({ ...other, [LABEL.created]: "0" })).toBe(true);
  });
});
