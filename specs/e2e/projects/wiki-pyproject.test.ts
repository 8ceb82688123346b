import { fileURLToPath } from "node:url";
import { observeProject } from "../observe.ts";

// A fixture shape of a real project (fixtures/wiki-pyproject/README or its settings say how it differs).
observeProject("fixtures/wiki-pyproject", fileURLToPath(new URL("../../../fixtures/wiki-pyproject/", import.meta.url)));
