import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../plumbing/paths.ts";
import { FAULTS } from "./catalogue.ts";
import { faultsMarkdown } from "./doc.ts";

describe("docs/faults.md", () => {
  it("is what the catalogue makes today (run `npm run docs` after changing the catalogue)", () => {
    expect(readFileSync(join(PROJECT_ROOT, "docs", "faults.md"), "utf8")).toBe(faultsMarkdown(FAULTS));
  });

  it("has one row per fault, with its id, its words and its specs", () => {
    const text = faultsMarkdown(FAULTS);
    for (const f of FAULTS) {
      const row = text.split("\n").find((l) => l.startsWith(`| \`${f.id}\` |`));
      expect(row, f.id).toBeDefined();
      for (const w of f.words) expect(row).toContain(w.replace(/\|/g, "\\|"));
      for (const s of f.specs) expect(row).toContain(`\`${s}\``);
    }
    // A description with a pipe stays one cell.
    expect(faultsMarkdown([{ ...FAULTS[0]!, description: "a | b" }])).toContain("a \\| b");
  });
});
