import { fileURLToPath } from "node:url";
import { observeProject } from "../observe.ts";

// A fixture shape of a real project (fixtures/shop-database-url/README or its settings say how it differs).
observeProject("fixtures/shop-database-url", fileURLToPath(new URL("../../../fixtures/shop-database-url/", import.meta.url)));
