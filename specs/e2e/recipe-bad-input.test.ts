import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { listLabelled } from "../../harness/docker/labels.ts";
import { fixtureVariant } from "../../harness/domain/fixtures.ts";
import { StepError } from "../../harness/lifecycle/steps.ts";
import { provisionAndDeploy } from "../../harness/recipe/recipe.ts";
import { reuseSnapshotSecrets } from "../../harness/snapshots/snapshots.ts";
import type { StartedTestbed } from "../../harness/testbed/testbed.ts";
import { log, sampleProject, setupFailed, testbed } from "./support.ts";
import { addRequirement, failingMigration } from "../../harness/project/changes.ts";
import { loadProject } from "../../harness/project/detect.ts";
import { releaseToolName } from "../../harness/release/tool.ts";

// One testbed for both failures: the recipe is re-runnable, so the second starts where the first
// stopped, as a person fixing one thing after another would.
let tb: StartedTestbed | undefined;
beforeAll(async () => {
  if (setupFailed()) return;
  tb = await testbed("deployed").start();
  // Bad input, not secrets, is the subject: keep the snapshot's, so the re-run restarts nothing.
  // They are found: the snapshot's build saved them for its own images.
  expect(await reuseSnapshotSecrets(tb, inject("snapshots").deployed)).toBe(true);
});
afterAll(async () => {
  await tb?.stop();
});

async function recipeError(changes: Parameters<typeof fixtureVariant>[0]): Promise<StepError> {
  await using project = await fixtureVariant(changes, sampleProject());
  // One environment is enough to see the step fail and what it says.
  const error = await provisionAndDeploy(tb!, { projectDir: project.dir, envs: ["prod"], log }).then(() => undefined, (e: unknown) => e);
  expect(error, String((error as Error)?.message ?? error)).toBeInstanceOf(StepError);
  return error as StepError;
}

describe("bad input to the recipe", () => {
  it("a project preflight refuses stops the recipe before any server changes, naming each problem with its file and line", async () => {
    const envFile = tb!.env("prod").envFile;
    const before = (await tb!.app.exec.run(`sha256sum ${envFile} /etc/nginx/sites-available/* /etc/systemd/system/gunicorn@.service`)).stdout;
    const error = await provisionAndDeploy(tb!, { projectDir: fileURLToPath(new URL("../../fixtures/broken-sqlite/", import.meta.url)), envs: ["prod"], log }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StepError);
    expect((error as StepError).step).toBe("preflight: the project");
    const message = (error as Error).message;
    expect(message).toContain("cannot be deployed as it is to prod; nothing was changed on the servers");
    expect(message).toMatch(/prod: mysite\/settings\.py:12: DATABASES\['default'\] is django\.db\.backends\.sqlite3 \(sqlite\), not the environment's Postgres database/);
    expect(message).toMatch(/prod: app polls has models but no migrations/);
    expect(message).toContain("npm run sandbox -- check --project");
    expect((await tb!.app.exec.run(`sha256sum ${envFile} /etc/nginx/sites-available/* /etc/systemd/system/gunicorn@.service`)).stdout).toBe(before);
  });

  it("a requirement the package index cannot serve stops the recipe at preflight, naming its file and line, before any server changes", async () => {
    const error = await recipeError(addRequirement(sampleProject(), loadProject(sampleProject()), "ddt-no-such-package==9.9.9"));
    expect(error.step).toBe("preflight: the project");
    expect(error.message).toMatch(/prod: requirements\.txt:\d+: ddt-no-such-package==9\.9\.9: the package index cannot serve it/);
  });

  it("a migration that raises fails at the migrate step with the command, exit code and traceback", async () => {
    const failing = failingMigration(sampleProject(), loadProject(sampleProject()));
    const error = await recipeError(failing.changes);
    expect(error.step).toBe("deploy: manage.py check, collectstatic, migrate (one Django process)");
    expect(error.message).toMatch(new RegExp(`${releaseToolName(tb!.config)} \\w+ prepare \\S+ check collectstatic migrate\` exited 1`));
    expect(error.message).toContain("prod: migrate failed: manage.py migrate raised the error above");
    expect(error.message).toMatch(/removed the half-made release \S+ \(migrate failed\)/);
    expect(error.message).toContain(failing.message);
  });

  it("after a failed recipe, disposing the testbed leaves no container, network or volume", async () => {
    // A testbed of its own, so this passes alone and in any order, and the file's shared one stays.
    const own = await testbed("deployed").start();
    const failed = await provisionAndDeploy(own, { projectDir: fileURLToPath(new URL("../../fixtures/broken-sqlite/", import.meta.url)), envs: ["prod"], log }).then(() => undefined, (e: unknown) => e);
    expect(failed).toBeInstanceOf(StepError);
    await own[Symbol.asyncDispose]();
    expect(await listLabelled(own.id)).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
