// Builds the project's images (only what is missing): `npm run images [-- --base ubuntu:24.04]`.
import { parseArgs } from "node:util";
import { ensureImages } from "../harness/images/catalog.ts";
import { log, main, useFlags } from "./cli.ts";

await main(async () => {
  const { values } = parseArgs({ options: { base: { type: "string" } } });
  useFlags({ base: values.base });
  const set = await ensureImages({ log });
  for (const [name, ref] of Object.entries(set)) process.stdout.write(`${name.padEnd(10)} ${ref}\n`);
});
