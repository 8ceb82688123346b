import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { isAbandoned, isOwnedBy, LABEL, labelsFor, ownerLabel, processAlive } from "./labels.ts";

describe("labels", () => {
  it("marks what this process creates as its own, and so not abandoned; another live owner's is not its own", () => {
    const l = labelsFor("ddt-test-abc", "test");
    expect(l[LABEL.testbed]).toBe("ddt-test-abc");
    expect(isOwnedBy(l)).toBe(true);
    expect(isAbandoned(l)).toBe(false);
    // pid 1 is alive (EPERM or not): its resources are someone else's, and not abandoned.
    const other = labelsFor("ddt-test-def", "test", { [LABEL.owner]: ownerLabel({ host: hostname(), pid: 1 }) });
    expect(isOwnedBy(other)).toBe(false);
    expect(isAbandoned(other)).toBe(false);
    expect(processAlive(1)).toBe(true);
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
