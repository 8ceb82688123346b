// Builds the project's images (only what is missing): `npm run images [-- --base ubuntu:24.04]`.
import { parseArgs } from "node:util";
import { ensureImages } from "../harness/images/catalog.ts";
import { log, main } from "./cli.ts";

await main(async () => {
  const { values } = parseArgs({ options: { base: { type: "string" } } });
  const set = await ensureImages({ base: values.base, log });
  for (const [name, ref] of Object.entries(set)) process.stdout.write(`${name.padEnd(10)} ${ref}\n`);
});
