// Run before `npm test` and `npm run sandbox`: a no-op when a Docker engine already answers.
import { ensureEngine } from "../harness/engine.ts";
import { log, main } from "./cli.ts";

await main(() => ensureEngine(log));
