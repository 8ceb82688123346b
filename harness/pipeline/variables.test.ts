import { describe, expect, it } from "vitest";
import { userVariables } from "./executor.ts";

describe("a job's CI/CD variables, as GitLab ranks them", () => {
  const run = {
    variables: { SSH_KNOWN_HOSTS: "hosts", SSH_PRIVATE_KEY: "project-wide" },
    environmentVariables: { prod: { SSH_PRIVATE_KEY: { value: "prod key", file: true as const } }, dev: { SSH_PRIVATE_KEY: "dev key" } },
  };
  it("gives a job its environment's scoped variable over the project-wide one, and nothing of another environment's", () => {
    expect(userVariables(run, "prod")).toEqual({ SSH_KNOWN_HOSTS: "hosts", SSH_PRIVATE_KEY: { value: "prod key", file: true } });
    expect(userVariables(run, "dev").SSH_PRIVATE_KEY).toBe("dev key");
    expect(userVariables(run, "staging").SSH_PRIVATE_KEY).toBe("project-wide");
    expect(userVariables(run, undefined).SSH_PRIVATE_KEY).toBe("project-wide");
  });
  it("lets variables given to the pipeline run win over both", () => {
    expect(userVariables({ ...run, pipelineVariables: { SSH_PRIVATE_KEY: "typed in" } }, "prod").SSH_PRIVATE_KEY).toBe("typed in");
  });
});
