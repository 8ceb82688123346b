import { cp, mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PROJECT_ROOT } from "../plumbing/paths.ts";

/** The sample Django project, as the repository holds it (a run's hooks may deploy a changed copy). */
export const sampleProjectDir = (): string => join(PROJECT_ROOT, "fixtures", "myproject");

/** A project's requirements.txt with `extra` lines added (for a spec that changes them). */
export function fixtureRequirements(projectDir: string, ...extra: string[]): string {
  const text = readFileSync(join(projectDir, "requirements.txt"), "utf8");
  return `${text.trimEnd()}\n${extra.map((l) => `${l}\n`).join("")}`;
}

export interface FixtureChanges {
  /** Files to write, relative to the project root. */
  write?: Record<string, string>;
  /** Files to delete, relative to the project root. */
  remove?: string[];
}

export interface FixtureCopy extends AsyncDisposable {
  dir: string;
}

/** A temporary copy of a project (the sample one by default) with some files changed, removed on dispose. */
export async function fixtureVariant(changes: FixtureChanges, from = sampleProjectDir()): Promise<FixtureCopy> {
  const root = await mkdtemp(join(tmpdir(), "ddt-fixture-"));
  const dir = join(root, "myproject");
  await cp(from, dir, { recursive: true });
  await applyChanges(dir, changes);
  return { dir, [Symbol.asyncDispose]: () => rm(root, { recursive: true, force: true }) };
}

export async function applyChanges(dir: string, changes: FixtureChanges): Promise<void> {
  for (const [path, content] of Object.entries(changes.write ?? {})) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  for (const path of changes.remove ?? []) await rm(join(dir, path), { force: true, recursive: true });
}
