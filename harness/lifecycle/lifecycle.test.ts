import { describe, expect, it } from "vitest";
import { silentLogger } from "../plumbing/log.ts";
import { AbortedError, Lifecycle } from "./lifecycle.ts";
import type { KeepPolicy } from "./keep.ts";
import { StepError } from "./steps.ts";

function lifecycle(keep: KeepPolicy, signal?: AbortSignal) {
  const events: string[] = [];
  const lc = new Lifecycle<string[]>({ log: silentLogger, keep, signal, teardown: async (e) => void e.push("teardown"), describeKept: () => "kept" });
  return { lc, events };
}

const ok = (name: string) => ({ name, phase: "provision" as const, run: async (e: string[]) => void e.push(name) });
const bad = { name: "breaks", phase: "deploy" as const, run: async () => { throw new Error("no"); } };

describe("lifecycle", () => {
  it("runs steps in order and records their timings", async () => {
    const { lc, events } = lifecycle("never");
    await lc.run([ok("a"), ok("b")], events);
    expect(events).toEqual(["a", "b"]);
    expect(lc.timings.map((t) => [t.name, t.ok])).toEqual([["a", true], ["b", true]]);
    expect(await lc.end(events, false)).toBe("removed");
    expect(events.at(-1)).toBe("teardown");
  });

  it.each([
    ["never", ["a", "teardown"]],
    ["on-failure", ["a"]],
    ["always", ["a"]],
  ] as const)("on failure with keep=%s: %j", async (keep, expected) => {
    const { lc, events } = lifecycle(keep);
    const err = await lc.run([ok("a"), bad, ok("c")], events).catch((e) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).step).toBe("breaks");
    expect(events).toEqual(expected);
  });

  it("keeps a successful run only with keep=always", async () => {
    for (const [keep, result] of [["on-failure", "removed"], ["always", "kept"]] as const) {
      const { lc, events } = lifecycle(keep);
      await lc.run([ok("a")], events);
      expect(await lc.end(events, false)).toBe(result);
    }
  });

  it("stops between steps when aborted, and tears down even under on-failure", async () => {
    const controller = new AbortController();
    const { lc, events } = lifecycle("on-failure", controller.signal);
    const stop = { name: "interrupt", phase: "boot" as const, run: async () => controller.abort() };
    const err = await lc.run([ok("a"), stop, ok("b")], events).catch((e) => e);
    expect((err as StepError).cause).toBeInstanceOf(AbortedError);
    expect(events).toEqual(["a", "teardown"]);
  });
});
