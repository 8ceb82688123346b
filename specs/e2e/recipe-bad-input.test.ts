import { describe, expect, it } from "vitest";
import { listLabelled } from "../../harness/docker/labels.ts";
import { fixtureVariant } from "../../harness/fixture.ts";
import { StepError } from "../../harness/lifecycle/runner.ts";
import { provisionAndDeploy } from "../../harness/recipe/recipe.ts";
import { log, testbed } from "./support.ts";
import { FAILING_MIGRATION } from "./fixture-changes.ts";

async function recipeError(changes: Parameters<typeof fixtureVariant>[0]): Promise<{ error: StepError; testbedId: string }> {
  await using project = await fixtureVariant(changes);
  let testbedId = "";
  let error: unknown;
  {
    await using tb = await testbed("deployed").start();
    testbedId = tb.id;
    // One environment is enough to see the step fail and what it says.
    error = await provisionAndDeploy(tb, { projectDir: project.dir, envs: ["prod"], log }).then(() => undefined, (e: unknown) => e);
  }
  expect(error, String((error as Error)?.message ?? error)).toBeInstanceOf(StepError);
  return { error: error as StepError, testbedId };
}

describe("bad input to the recipe", () => {
  it("a requirement missing from the wheelhouse fails at the wheelhouse step, naming it", async () => {
    const { error, testbedId } = await recipeError({
      write: { "requirements.txt": "Django>=5.2,<5.3\ngunicorn>=22\npsycopg[binary]>=3.1\nddt-no-such-package==9.9.9\n" },
    });
    expect(error.step).toBe("app: wheelhouse");
    expect(error.message).toContain("ddt-no-such-package");
    expect(error.message).toMatch(/No matching distribution|Could not find/);
    expect(await listLabelled(testbedId)).toEqual({ containers: [], networks: [], volumes: [] });
  });

  it("a migration that raises fails at the migrate step with the command, exit code and traceback", async () => {
    const { error, testbedId } = await recipeError({ write: { [FAILING_MIGRATION.path]: FAILING_MIGRATION.content } });
    expect(error.step).toBe("deploy: manage.py migrate");
    expect(error.message).toMatch(/myproject-release \w+ migrate \S+` exited 1/);
    expect(error.message).toMatch(/removed the half-made release \S+ \(migrate failed\)/);
    expect(error.message).toContain(FAILING_MIGRATION.message);
    expect(await listLabelled(testbedId)).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
