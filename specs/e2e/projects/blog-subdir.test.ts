import { fileURLToPath } from "node:url";
import { observeProject } from "../observe.ts";

// A fixture shape of a real project (fixtures/blog-subdir/README or its settings say how it differs).
observeProject("fixtures/blog-subdir", fileURLToPath(new URL("../../../fixtures/blog-subdir/", import.meta.url)));
