import { describe, expect, it } from "vitest";
import { goDuration, parseJobTimeout } from "./timeout.ts";

describe("a job's timeout, as GitLab reads and reports it", () => {
  it.each([
    ["15 minutes", 900_000],
    ["1h 30m", 5_400_000],
    ["3 hours 30 minutes", 12_600_000],
    ["3 hours and 30 minutes", 12_600_000],
    ["90s", 90_000],
    ["2 seconds", 2_000],
    ["1 day", 86_400_000],
    ["1.5h", 5_400_000],
    ["90", 90_000],
    [45, 45_000],
  ] as const)("%s is %i ms", (text, ms) => expect(parseJobTimeout(text)).toBe(ms));

  it.each([
    ["soon", /not a duration GitLab reads/],
    ["10 fortnights", /"fortnights" is not a unit of time/],
    ["10m and then", /not a duration GitLab reads/],
    ["0 minutes", /no time at all/],
    ["", /not a duration/],
  ])("%j is refused", (text, error) => expect(() => parseJobTimeout(text)).toThrow(error));

  it.each([
    [2_000, "2s"],
    [900_000, "15m0s"],
    [3_600_000, "1h0m0s"],
    [5_430_000, "1h30m30s"],
    [59_400, "59s"],
  ])("%i ms prints as %s", (ms, text) => expect(goDuration(ms)).toBe(text));
});
