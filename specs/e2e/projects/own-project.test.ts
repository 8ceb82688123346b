import { resolve } from "node:path";
import { describe, it } from "vitest";
import { observeProject } from "../observe.ts";

// `TESTBED_PROJECT=PATH npm test`: the same observing specs on your own repository.
const own = process.env.TESTBED_PROJECT;
if (own) observeProject(`TESTBED_PROJECT=${own}`, resolve(own));
else describe("TESTBED_PROJECT", () => it.skip("is not set: only the fixture shapes are observed", () => undefined));
