import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DeploymentConfig, Environment } from "../domain/envs.ts";
import { NO_HOOKS, type Hooks } from "../domain/hooks.ts";
import { sh, type ShellText } from "../shell/quote.ts";

/**
 * The release steps, as release-tool/steps.json declares them once for every reader: this file (the
 * recipe and the pipeline generator use it), and the release tool on the server, which gets the
 * table in its config. Neither the recipe nor the pipeline names a step of its own.
 */
export interface ReleaseStepDef {
  step: string;
  title: string;
  /** The tool runs it itself, or inside the release's Django. */
  runs: "tool" | "django";
  /** It takes pip's arguments (the wheelhouse, a proxy...). */
  pipArgs?: boolean;
  /** The flag that adds `makemigrations --check` to it. */
  migrationsFlag?: string;
  phase?: "deploy" | "verify";
  /** It makes the release live, restarting gunicorn. */
  switches?: boolean;
}

const TABLE_PATH = fileURLToPath(new URL("../../release-tool/steps.json", import.meta.url));

/** The deploy's steps, in order, from release-tool/steps.json (read when first asked for). */
export function releaseSteps(hooks: Hooks = NO_HOOKS): ReadonlyArray<ReleaseStepDef> {
  table ??= (JSON.parse(readFileSync(TABLE_PATH, "utf8")) as { deploy: ReleaseStepDef[] }).deploy;
  return hooks.steps(table);
}
let table: ReleaseStepDef[] | undefined;

/** A command of the release tool: one step, or `prepare` with the adjacent Django steps it runs in order. */
export interface ReleaseCommandStep {
  step: string;
  /** For `prepare`: its Django steps, in order. */
  django: ReleaseStepDef[];
  title: string;
  phase: "deploy" | "verify";
  pipArgs: boolean;
  switches: boolean;
}

/**
 * The release steps as the tool's commands: Django steps next to each other run as one `prepare`,
 * in one Django process (a Django start-up is about 0.3 s of CPU here; three of them were a third of
 * a deploy with unchanged requirements). Its log still names and times each step, and a failure
 * names the step that failed. Steps in another order (a catalogued fault) group as they stand.
 */
export function releaseCommandSteps(steps: ReadonlyArray<ReleaseStepDef>): ReleaseCommandStep[] {
  const out: ReleaseCommandStep[] = [];
  for (const def of steps) {
    const last = out.at(-1);
    if (def.runs !== "django") out.push({ step: def.step, django: [], title: def.title, phase: def.phase ?? "deploy", pipArgs: !!def.pipArgs, switches: !!def.switches });
    else if (last?.step === "prepare") last.django.push(def);
    else out.push({ step: "prepare", django: [def], title: "", phase: "deploy", pipArgs: false, switches: false });
  }
  for (const c of out) if (c.step === "prepare") c.title = `manage.py ${c.django.map((d) => d.step).join(", ")} (one Django process)`;
  return out;
}

/** What a command is given after the release: pip's arguments, or its Django steps and their flags. */
export function releaseCommandArgs(c: ReleaseCommandStep, opts: { pip: ReadonlyArray<string | ShellText>; checkMigrations: boolean }): Array<string | ShellText> {
  if (c.pipArgs) return [...opts.pip];
  const flags = opts.checkMigrations ? c.django.flatMap((d) => (d.migrationsFlag ? [d.migrationsFlag] : [])) : [];
  return [...c.django.map((d) => d.step), ...flags];
}

/** The command name as the deploy user types it (/usr/local/bin is on every login's PATH). */
export const releaseTool = (config: DeploymentConfig) => `${config.project}-release`;

/**
 * One step as a command on the server. `release` is the release's path, or shell text such as
 * "$RELEASE" that the job's shell expands; `extra` are further words (pip's arguments).
 */
export function releaseCommand(config: DeploymentConfig, env: Environment, step: string, release?: string | ShellText, extra: ReadonlyArray<string | ShellText> = []): string {
  return sh`${[releaseTool(config), env.name, step, ...(release === undefined ? [] : [release]), ...extra]}`;
}

/**
 * Files rsync leaves out of a release, anchored at its root: the repository's own metadata, what
 * the tool writes into a release, and the `media` link beside manage.py (uploads live outside).
 */
export const uploadExcludes = (appDir = ""): string[] => ["/.git/", "/.release.json", "/.release-ready", "/.static", appDir ? `/${appDir}/media` : "/media"];
