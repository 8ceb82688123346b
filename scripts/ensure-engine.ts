// Run before `npm test`, the bench and the faults (`npm run sandbox` checks in its own process): a
// no-op when a Docker engine already answers.
import { ensureEngineForRun, main } from "./cli.ts";

await main(() => ensureEngineForRun());
