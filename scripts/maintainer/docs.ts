// `npm run docs`: writes the pages made from the code (docs/faults.md from the fault catalogue).
// A unit spec fails when a page differs from what this would write.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { FAULTS } from "../../harness/faults/catalogue.ts";
import { faultsMarkdown } from "../../harness/faults/doc.ts";
import { log, main } from "../cli.ts";

await main(async () => {
  const path = join(PROJECT_ROOT, "docs", "faults.md");
  await writeFile(path, faultsMarkdown(FAULTS));
  log.info(`wrote ${path} (${FAULTS.length} faults)`);
});
