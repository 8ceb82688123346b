import type { Fault } from "./catalogue.ts";

/** A table cell: pipes escaped, one line. */
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

/**
 * docs/faults.md, made from the catalogue (`npm run docs`) and compared with it by a unit spec
 * (harness/faults/doc.test.ts), so the page can never drift from what `npm run faults` injects.
 */
export function faultsMarkdown(faults: ReadonlyArray<Fault>): string {
  const rows = faults.map((f) => `| \`${f.id}\` | ${f.where} | ${cell(f.description)} | ${f.words.map((w) => `\`${cell(w)}\``).join(", ")} | ${f.specs.map((s) => `\`${s}\``).join(", ")}${f.tests ? ` (${cell(f.tests)})` : ""} |`);
  return [
    "# The fault catalogue",
    "",
    "<!-- Generated from harness/faults/catalogue.ts by `npm run docs`; edit the catalogue, not this file. -->",
    "",
    "`npm run faults` injects each of these into a run of the specs that concern it, through the run's",
    "hooks (`harness/domain/hooks.ts`, built by `harness/faults/inject.ts` from `TESTBED_FAULT`), never by",
    "editing a source file. A fault counts as **caught** only when a spec fails and its message, before",
    "the attached diagnostics, contains every one of the fault's words; **caught but vague** when a spec",
    "fails without them; **missed** when every spec passes. The report is `reports/faults.json`.",
    "",
    `${faults.length} faults:`,
    "",
    "| fault | where | what it does | the message must say | specs (tests) |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}
