import { resolve } from "node:path";
import { describe, it } from "vitest";
import { observeProject } from "../observe.ts";
import { settings } from "../../../harness/plumbing/settings.ts";

// `TESTBED_PROJECT=PATH npm test`: the same observing specs on your own repository.
const own = settings().project;
if (own) observeProject(`TESTBED_PROJECT=${own}`, resolve(own));
else describe("TESTBED_PROJECT", () => it.skip("is not set: only the fixture shapes are observed", () => undefined));
