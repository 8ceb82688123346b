import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RELEASES_KEPT, type DeploymentConfig, type Environment } from "../envs.ts";
import { injectSteps } from "../faults/inject.ts";
import { sh, type ShellText } from "../quote.ts";
import { gunicornCommands } from "./units.ts";

/**
 * One definition of a deploy. The server holds the release tool (release-tool.py, provisioned as
 * /usr/local/bin/<project>-release); the recipe and the generated pipeline both run the same steps
 * of it, in this order, each as one visible command. Neither writes its own deploy.
 */
export const RELEASE_TOOL_SOURCE = readFileSync(fileURLToPath(new URL("./release-tool.py", import.meta.url)), "utf8");
/** What the tool runs inside a release's Django (release-django.py), installed beside it. */
export const RELEASE_DJANGO_SOURCE = readFileSync(fileURLToPath(new URL("./release-django.py", import.meta.url)), "utf8");

export const releaseToolPath = (config: DeploymentConfig) => `/usr/local/bin/${config.project}-release`;
export const releaseToolConfigPath = (config: DeploymentConfig) => `/etc/${config.project}-release.json`;
export const releaseDjangoPath = (config: DeploymentConfig) => `/usr/local/lib/${config.project}-release-django.py`;
/** The command name as the deploy user types it (/usr/local/bin is on every login's PATH). */
export const releaseTool = (config: DeploymentConfig) => `${config.project}-release`;

/** The tool's settings: each environment's paths, unit, gunicorn commands and port, from the environment table. */
export function releaseToolConfig(config: DeploymentConfig, envs: Environment[]): string {
  const table = Object.fromEntries(
    envs.map((e) => [e.name, { live: e.dir, releases: e.releases, venvs: e.venvs, media: e.media, envFile: e.envFile, unit: e.unit, gunicorn: gunicornCommands(e.unit), port: e.port, tier: e.tier }]),
  );
  return JSON.stringify({ project: config.project, keep: RELEASES_KEPT, django: releaseDjangoPath(config), envs: table }, null, 2) + "\n";
}

export type ReleaseStep = "venv" | "check" | "collectstatic" | "migrate" | "switch" | "verify";

/** What a deploy does once the code is uploaded into a new release, in order. */
export const RELEASE_STEPS: ReadonlyArray<{ step: ReleaseStep; title: string }> = injectSteps([
  { step: "venv", title: "requirements (a venv per requirements.txt, reused when unchanged)" },
  { step: "check", title: "manage.py check" },
  { step: "collectstatic", title: "manage.py collectstatic" },
  { step: "migrate", title: "manage.py migrate" },
  { step: "switch", title: "switch the live release" },
  { step: "verify", title: "verify through nginx" },
]);

export type DjangoStep = "check" | "collectstatic" | "migrate";
const DJANGO_STEPS: ReadonlySet<string> = new Set<DjangoStep>(["check", "collectstatic", "migrate"]);

/** A command of the release tool: one step, or `prepare` with the Django steps it runs in order. */
export interface ReleaseCommandStep {
  step: Exclude<ReleaseStep, DjangoStep> | "prepare";
  /** For `prepare`: its Django steps, in order. */
  django: DjangoStep[];
  title: string;
}

/**
 * The release steps as the tool's commands: Django steps next to each other run as one `prepare`,
 * in one Django process (a Django start-up is about 0.3 s of CPU here; three of them were a third of
 * a deploy with unchanged requirements). Its log still names and times each step, and a failure
 * names the step that failed. Steps in another order (a catalogued fault) group as they stand.
 */
export function releaseCommandSteps(steps: ReadonlyArray<{ step: ReleaseStep; title: string }> = RELEASE_STEPS): ReleaseCommandStep[] {
  const out: ReleaseCommandStep[] = [];
  for (const { step, title } of steps) {
    const last = out.at(-1);
    if (!DJANGO_STEPS.has(step)) out.push({ step: step as ReleaseCommandStep["step"], django: [], title });
    else if (last?.step === "prepare") last.django.push(step as DjangoStep);
    else out.push({ step: "prepare", django: [step as DjangoStep], title: "" });
  }
  for (const c of out) if (c.step === "prepare") c.title = `manage.py ${c.django.join(", ")} (one Django process)`;
  return out;
}

/**
 * One step as a command on the server. `release` is the release's path, or shell text such as
 * "$RELEASE" that the job's shell expands; `extra` are further words (pip's arguments).
 */
export function releaseCommand(config: DeploymentConfig, env: Environment, step: string, release?: string | ShellText, extra: ReadonlyArray<string | ShellText> = []): string {
  return sh`${[releaseTool(config), env.name, step, ...(release === undefined ? [] : [release]), ...extra]}`;
}

/** Files rsync leaves out of a release: the repository's own metadata, anchored at its root. */
export const UPLOAD_EXCLUDES = ["/.git/", "/.release.json", "/.release-ready", "/media"];
