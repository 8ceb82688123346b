import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { EnvName } from "../domain/envs.ts";
import type { FixtureChanges } from "../domain/fixtures.ts";
import { projectApps, type ProjectApp } from "./apps.ts";
import { settingsFiles, type DjangoProject } from "./detect.ts";

/**
 * Changes a spec or a fault commits to any Django project, computed from what every Django project
 * has (its settings module, its requirements, an app with migrations), never from one project's
 * own pages or models. `dir` is the repository as it is now (a spec's clone, after its commits):
 * paths are relative to it, and the project model says where manage.py and the settings are.
 */

const rel = (dir: string, path: string) => relative(dir, path).split("\\").join("/");

/** The prod settings module's own file, relative to the repository (settings/production.py, say). */
export function settingsFile(dir: string, project: DjangoProject, env: EnvName = "prod"): string {
  const file = settingsFiles(join(dir, project.appDir), project.settings[env])[0];
  if (!file) throw new Error(`${dir}: settings module ${project.settings[env]} has no file under ${project.appDir || "the repository root"}`);
  return rel(dir, file);
}

/** The settings file with `python` appended: the last word on any setting (DEBUG = True, say). */
export function appendToSettings(dir: string, project: DjangoProject, python: string, env: EnvName = "prod"): FixtureChanges {
  const path = settingsFile(dir, project, env);
  return { write: { [path]: `${readFileSync(join(dir, path), "utf8").trimEnd()}\n\n${python.trim()}\n` } };
}

/** The requirements with a line added (a requirements file; pyproject's table is not rewritten). */
export function addRequirement(dir: string, project: DjangoProject, line: string): FixtureChanges {
  if (project.requirements.endsWith(".toml")) throw new Error(`${project.requirements}: adding a requirement to pyproject.toml is not supported here; use a project with a requirements file`);
  const text = readFileSync(join(dir, project.requirements), "utf8");
  return { write: { [project.requirements]: `${text.trimEnd()}\n${line}\n` } };
}

/** The project's first app that has migrations: where a spec's own migration goes. */
export function appWithMigrations(dir: string, project: DjangoProject): ProjectApp & { latest: string } {
  const app = projectApps(join(dir, project.appDir)).find((a) => a.migrations.length > 0);
  if (!app) throw new Error(`${dir}: no app of the project has a migrations folder with a migration; a migration cannot be added`);
  return { ...app, latest: app.migrations.at(-1)!.split(".")[1]! };
}

export interface AddedMigration {
  changes: FixtureChanges;
  /** As Django records it: `app.0004_testbed_x`. */
  name: string;
}

/** A migration after the app's latest, running `operations` (Python source of a list's items). */
export function addMigration(dir: string, project: DjangoProject, slug: string, operations: string, imports = "from django.db import migrations"): AddedMigration {
  const app = appWithMigrations(dir, project);
  const number = String(Number(app.latest.slice(0, 4)) + 1).padStart(4, "0");
  const file = `${number}_${slug}`;
  const path = rel(dir, join(app.dir, "migrations", `${file}.py`));
  if (existsSync(join(dir, path))) throw new Error(`${path} exists already`);
  const content = `${imports}\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(${JSON.stringify(app.label)}, ${JSON.stringify(app.latest)})]\n    operations = [\n        ${operations.trim()},\n    ]\n`;
  return { changes: { write: { [path]: content } }, name: `${app.label}.${file}` };
}

/** A migration that always raises, with the words it raises. */
export function failingMigration(dir: string, project: DjangoProject): AddedMigration & { message: string } {
  const message = "RuntimeError: boom: this migration always fails";
  const m = addMigration(dir, project, "testbed_boom", "migrations.RunPython(boom)", `from django.db import migrations\n\n\ndef boom(apps, schema_editor):\n    raise RuntimeError("boom: this migration always fails")`);
  return { ...m, message };
}

/**
 * A model added to the app with migrations, with no migration for it: what `makemigrations --check`
 * exists to stop. Appended to the app's models.py (made, importing Django's models, if it has none).
 */
export function modelWithoutMigration(dir: string, project: DjangoProject, model = "TestbedUnmigrated"): { changes: FixtureChanges; app: string; model: string } {
  const app = appWithMigrations(dir, project);
  const file = join(app.dir, "models.py");
  const before = existsSync(file) ? readFileSync(file, "utf8").trimEnd() : "from django.db import models";
  // Its own import, under another name: the models.py may import Django's models as anything, or not at all.
  const added = `from django.db import models as testbed_models\n\n\nclass ${model}(testbed_models.Model):\n    name = testbed_models.CharField(max_length=40)\n`;
  return { changes: { write: { [rel(dir, file)]: `${before}\n\n\n${added}` } }, app: app.label, model };
}

/** A migration that runs SQL (and its reverse), touching no model of the project's. */
export function sqlMigration(dir: string, project: DjangoProject, slug: string, sql: string, reverse: string): AddedMigration {
  return addMigration(dir, project, slug, `migrations.RunSQL(${JSON.stringify(sql)}, ${JSON.stringify(reverse)})`);
}

/**
 * A new static file beside one the project already ships (`beside`: its path in the repository and
 * the URL nginx serves it at), so it lands where the project's own finders collect from, and where
 * its .gitignore lets it be committed; and the URL the new one must be served at.
 */
export function addStaticFile(beside: { path: string; url: string }, name: string, content: string): { changes: FixtureChanges; url: string } {
  const dir = (p: string) => p.slice(0, p.lastIndexOf("/") + 1);
  return { changes: { write: { [`${dir(beside.path)}${name}`]: content } }, url: `${dir(beside.url)}${name}` };
}

/** A file Django never reads: a code change that only a new release's commit tells apart. */
export function touchFile(name: string, content: string): FixtureChanges {
  return { write: { [`testbed-changes/${name}`]: content } };
}

/** Several changes as one commit's. */
export function combine(...changes: FixtureChanges[]): FixtureChanges {
  return { write: Object.assign({}, ...changes.map((c) => c.write ?? {})), remove: changes.flatMap((c) => c.remove ?? []) };
}
