import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../core/paths.ts";
import { checklist } from "../recipe/release.ts";

describe("the checklist", () => {
  it("has unique ids, a sentence, an expectation and a place to look for each check", () => {
    const checks = checklist();
    expect(new Set(checks.map((c) => c.id)).size).toBe(checks.length);
    for (const c of checks) {
      expect(c.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(["server", "http"]).toContain(c.side);
      for (const text of [c.sentence, c.expects, c.lookAt]) expect(text.length, c.id).toBeGreaterThan(5);
    }
  });

  it("is docs/verify.md's list of checks, row for row", () => {
    const page = readFileSync(join(PROJECT_ROOT, "docs", "verify.md"), "utf8");
    const rows = [...page.matchAll(/^\| `([a-z-]+)` \| (server|http) \| (.+) \|$/gm)].map((m) => ({ id: m[1], side: m[2], sentence: m[3] }));
    expect(rows).toEqual(checklist().map(({ id, side, sentence }) => ({ id, side, sentence })));
  });

  it("is evaluated by the release tool for every server check", () => {
    const python = readFileSync(join(PROJECT_ROOT, "harness", "recipe", "release_checklist.py"), "utf8");
    for (const c of checklist()) expect(python, c.id).toContain(`"${c.id}"`);
  });
});
