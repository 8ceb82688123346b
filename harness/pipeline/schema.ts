import { Ajv } from "ajv";
// GitLab's published CI schema (app/assets/javascripts/editor/schema/ci.json), as gitlab-ci-local ships it.
import { schema } from "gitlab-ci-local/src/schema/schema.js";

let validate: ReturnType<Ajv["compile"]> | undefined;

/** Validates a parsed .gitlab-ci.yml against GitLab's CI schema; returns readable errors. */
export function gitlabCiSchemaErrors(doc: unknown): string[] {
  validate ??= new Ajv({
    allErrors: true,
    allowUnionTypes: true,
    validateFormats: false,
    strict: false,
    keywords: ["markdownDescription"],
  }).compile(schema);
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} (${e.schemaPath})`);
}
