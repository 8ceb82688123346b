import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { ENV_NAMES, type EnvName } from "../domain/envs.ts";
import { NOT_APPS } from "./apps.ts";

/**
 * A Django project as it is in its repository, unmodified: where manage.py is, which settings module
 * and WSGI application it runs, where its requirements are, which path says it is healthy, and the
 * variables its settings read. Explicit config wins (flags, then deploy-testbed.toml), then
 * conventions (manage.py's default settings module, WSGI_APPLICATION, a Procfile's `web:` line).
 * Facts only the project's own Django knows (STATIC_ROOT, the database it uses) are read on the
 * server at deploy time by the release tool, not here.
 */
export interface DjangoProject {
  /** The repository on this machine. */
  dir: string;
  /** Where manage.py is, relative to the repository ("" for its root). */
  appDir: string;
  /** DJANGO_SETTINGS_MODULE for each environment. */
  settings: Record<EnvName, string>;
  /** The WSGI application, `module:attribute`. */
  wsgi: string;
  /** The requirements, relative to the repository: a requirements file or pyproject.toml. */
  requirements: string;
  /** Requested through nginx to see that a release serves: healthy below 500, redirects not followed. */
  health: string;
  /**
   * Where nginx serves the static files and the uploads (STATIC_URL, MEDIA_URL): read from the
   * settings for nginx's site, and checked against the project's own Django at every deploy.
   */
  staticUrl: string;
  mediaUrl: string;
  /** The Python the project asks for (runtime.txt, .python-version, or the config), and where it said so. */
  python?: { version: string; from: string };
  /** Variables its settings read, as templates of the environment contract (contract.ts): for every environment, then per environment. */
  env: { all: Record<string, string>; byEnv: Partial<Record<EnvName, Record<string, string>>> };
  /** The top-level package of its settings: the deploy's default name for paths, units and the tool. */
  name: string;
  /** Where each fact came from, for the preflight report: "deploy-testbed.toml", "manage.py", ... */
  sources: Record<string, string>;
}

/** What a person may set: the same names in deploy-testbed.toml and as CLI flags (flags win). */
export interface ProjectSettings {
  app_dir?: string;
  settings?: string | Partial<Record<EnvName, string>>;
  wsgi?: string;
  requirements?: string;
  health?: string;
  python?: string;
  static_url?: string;
  media_url?: string;
  env?: Record<string, string | Record<string, string>>;
}

export const CONFIG_FILE = "deploy-testbed.toml";

export class ProjectError extends Error {
  override name = "ProjectError";
}


/** manage.py files up to two directories down, skipping virtualenvs and caches. */
function findManagePy(dir: string, depth = 0, under = ""): string[] {
  if (existsSync(join(dir, under, "manage.py"))) return [under];
  if (depth >= 2) return [];
  return readdirSync(join(dir, under), { withFileTypes: true })
    .filter((e) => e.isDirectory() && !NOT_APPS.has(e.name) && !e.name.startsWith("."))
    .flatMap((e) => findManagePy(dir, depth + 1, under ? `${under}/${e.name}` : e.name));
}

const read = (path: string) => readFileSync(path, "utf8");

/** The module's file under `root`: a module or a package. */
function moduleFile(root: string, module: string): string | undefined {
  const base = join(root, ...module.split("."));
  return [`${base}.py`, join(base, "__init__.py")].find((p) => existsSync(p));
}

/**
 * The .py files a settings module is made of: its own file first, then the rest of its package
 * (settings/production.py imports settings/base.py, where WSGI_APPLICATION usually is).
 */
export function settingsFiles(root: string, module: string): string[] {
  const file = moduleFile(root, module);
  if (!file) return [];
  const dir = file.endsWith("__init__.py") ? join(file, "..") : dirname(file);
  const siblings = existsSync(join(dir, "__init__.py")) ? readdirSync(dir).filter((f) => f.endsWith(".py")).map((f) => join(dir, f)).sort() : [];
  return [file, ...siblings.filter((f) => f !== file)];
}

function readConfigFile(dir: string): ProjectSettings {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) return {};
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(read(path)) as Record<string, unknown>;
  } catch (err) {
    throw new ProjectError(`${path}: not valid TOML: ${(err as Error).message.split("\n")[0]}`);
  }
  const known = ["app_dir", "settings", "wsgi", "requirements", "health", "python", "static_url", "media_url", "env"];
  const unknown = Object.keys(doc).filter((k) => !known.includes(k));
  if (unknown.length) throw new ProjectError(`${path}: unknown key(s) ${unknown.join(", ")}; it takes ${known.join(", ")}`);
  for (const k of ["app_dir", "wsgi", "requirements", "health", "python", "static_url", "media_url"]) {
    if (doc[k] !== undefined && typeof doc[k] !== "string") throw new ProjectError(`${path}: ${k} must be a string`);
  }
  return doc as ProjectSettings;
}

/** Django's dotted form (`x.wsgi.application`, as in WSGI_APPLICATION) → gunicorn's (`x.wsgi:application`). */
const fromDjangoForm = (target: string) => target.replace(/\.([A-Za-z_]\w*)$/, ":$1");

/**
 * gunicorn's form from what a person or a Procfile wrote: `module:attribute` as it is; a dotted
 * name that is a module in the project means its `application` (gunicorn's default); otherwise
 * Django's dotted form.
 */
function wsgiTarget(app: string, target: string): string {
  if (target.includes(":")) return target;
  return moduleFile(app, target) ? `${target}:application` : fromDjangoForm(target);
}

/** The WSGI target of a Procfile's `web:` line that runs gunicorn. */
function procfileWsgi(dir: string, appDir: string): string | undefined {
  for (const path of [join(dir, "Procfile"), join(dir, appDir, "Procfile")]) {
    if (!existsSync(path)) continue;
    const web = read(path).split("\n").find((l) => /^web:/.test(l));
    const words = web?.replace(/^web:\s*/, "").split(/\s+/) ?? [];
    const i = words.findIndex((w) => /(^|\/)gunicorn$/.test(w));
    if (i < 0) continue;
    // The first word after gunicorn that is not an option or an option's value.
    for (let j = i + 1; j < words.length; j++) {
      const w = words[j]!;
      if (w.startsWith("-")) {
        if (!w.includes("=") && /^-(b|w|k|c|t|-bind|-workers|-worker-class|-config|-timeout|-chdir|-log-file|-log-level|-access-logfile|-error-logfile|-pythonpath)$/.test(w)) j++;
        continue;
      }
      if (/^[\w.]+(:[\w.()]+)?$/.test(w)) return w;
    }
  }
  return undefined;
}

/** Reads a project from its directory; `flags` (from the command line) win over its config file. */
export function loadProject(dir: string, flags: ProjectSettings = {}): DjangoProject {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ProjectError(`${dir}: not a directory; --project takes the Django project's repository`);
  const file = readConfigFile(dir);
  const sources: Record<string, string> = {};
  const pick = <K extends keyof ProjectSettings>(key: K): ProjectSettings[K] | undefined => {
    if (flags[key] !== undefined) return (sources[key] = "flag", flags[key]);
    if (file[key] !== undefined) return (sources[key] = CONFIG_FILE, file[key]);
    return undefined;
  };

  let appDir = pick("app_dir");
  if (appDir === undefined) {
    const found = findManagePy(dir);
    if (!found.length) throw new ProjectError(`${dir}: no manage.py here or two directories down; is this a Django project? If manage.py is deeper, set app_dir in ${CONFIG_FILE}`);
    if (found.length > 1) throw new ProjectError(`${dir}: several manage.py (${found.map((f) => `${f || "."}/manage.py`).join(", ")}); choose one with app_dir in ${CONFIG_FILE}`);
    appDir = found[0]!;
    sources.app_dir = "manage.py found";
  } else if (!existsSync(join(dir, appDir, "manage.py"))) {
    throw new ProjectError(`${join(dir, appDir)}: no manage.py there (app_dir from ${sources.app_dir})`);
  }
  const app = join(dir, appDir);

  const fromManage = /DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']/.exec(read(join(app, "manage.py")))?.[1];
  const setting = pick("settings") ?? fromManage;
  if (setting === undefined) throw new ProjectError(`${join(app, "manage.py")}: sets no default DJANGO_SETTINGS_MODULE; set settings in ${CONFIG_FILE}`);
  sources.settings ??= "manage.py";
  const settings = Object.fromEntries(
    ENV_NAMES.map((e) => {
      const s = typeof setting === "string" ? setting : setting[e];
      if (!s) throw new ProjectError(`${CONFIG_FILE}: settings has no module for ${e}; give one for each of ${ENV_NAMES.join(", ")}`);
      if (!moduleFile(app, s)) throw new ProjectError(`${app}: settings module ${s} (${sources.settings}) is not there: no ${s.replace(/\./g, "/")}.py or package`);
      return [e, s];
    }),
  ) as Record<EnvName, string>;

  let wsgi = pick("wsgi");
  if (wsgi === undefined) {
    const declared = settingsFiles(app, settings.prod).map((f) => /^WSGI_APPLICATION\s*=\s*["']([\w.]+)["']/m.exec(read(f))?.[1]).find(Boolean);
    const procfile = procfileWsgi(dir, appDir);
    const conventional = `${settings.prod.split(".")[0]}.wsgi:application`;
    wsgi = declared ? fromDjangoForm(declared) : procfile ?? conventional;
    sources.wsgi = declared ? "WSGI_APPLICATION" : procfile ? "Procfile" : "convention";
  }
  wsgi = wsgiTarget(app, wsgi);
  if (!moduleFile(app, wsgi.split(":")[0]!)) throw new ProjectError(`${app}: WSGI module ${wsgi.split(":")[0]} (${sources.wsgi}) is not there; set wsgi in ${CONFIG_FILE}`);

  let requirements = pick("requirements");
  if (requirements === undefined) {
    requirements = ["requirements.txt", appDir && `${appDir}/requirements.txt`, "pyproject.toml"].find((p) => p && existsSync(join(dir, p))) || undefined;
    sources.requirements = "convention";
    if (!requirements) throw new ProjectError(`${dir}: no requirements.txt (here or beside manage.py) and no pyproject.toml; set requirements in ${CONFIG_FILE}`);
  } else if (!existsSync(join(dir, requirements))) {
    throw new ProjectError(`${join(dir, requirements)}: not there (requirements from ${sources.requirements})`);
  }

  let python: DjangoProject["python"];
  const asked = pick("python");
  if (asked) python = { version: asked, from: sources.python! };
  else {
    for (const f of ["runtime.txt", ".python-version", appDir && `${appDir}/runtime.txt`].filter(Boolean) as string[]) {
      const m = existsSync(join(dir, f)) ? /(\d+\.\d+)/.exec(read(join(dir, f))) : null;
      if (m) {
        python = { version: m[1]!, from: f };
        break;
      }
    }
  }

  const rawEnv = pick("env") ?? {};
  const all: Record<string, string> = {};
  const byEnv: DjangoProject["env"]["byEnv"] = {};
  for (const [key, value] of Object.entries(rawEnv)) {
    if (typeof value === "string") all[key] = value;
    else if ((ENV_NAMES as string[]).includes(key) && value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") throw new ProjectError(`${CONFIG_FILE}: [env.${key}] ${k} must be a string`);
      }
      byEnv[key as EnvName] = value as Record<string, string>;
    } else throw new ProjectError(`${CONFIG_FILE}: [env] ${key} must be a string, or a table named after an environment (${ENV_NAMES.join(", ")})`);
  }
  for (const k of [...Object.keys(all), ...Object.values(byEnv).flatMap((t) => Object.keys(t!))]) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new ProjectError(`${CONFIG_FILE}: [env] ${k}: not a variable name`);
  }

  const health = pick("health") ?? "/";
  if (!health.startsWith("/")) throw new ProjectError(`health "${health}": a path beginning with /`);
  sources.health ??= "default";

  // A URL setting as the settings write it (a literal in 9 projects out of 10); the release's own
  // Django confirms it at every deploy, so a computed one that differs fails there, named.
  const urlSetting = (key: "static_url" | "media_url", setting: string, fallback: string) => {
    let value = pick(key);
    if (value === undefined) {
      const found = settingsFiles(app, settings.prod).map((f) => new RegExp(`^${setting}\\s*=\\s*["']([^"']+)["']`, "m").exec(read(f))?.[1]).find(Boolean);
      value = found ?? fallback;
      sources[key] = found ? setting : "default";
    }
    return `/${value.replace(/^\/+|\/+$/g, "")}/`.replace("//", "/");
  };
  const staticUrl = urlSetting("static_url", "STATIC_URL", "/static/");
  const mediaUrl = urlSetting("media_url", "MEDIA_URL", "/media/");
  if (staticUrl === "/" || mediaUrl === "/") throw new ProjectError(`STATIC_URL and MEDIA_URL must not be / (nginx would serve every page from disk); set static_url or media_url in ${CONFIG_FILE}`);
  return { dir, appDir, settings, wsgi, requirements, health, staticUrl, mediaUrl, python, env: { all, byEnv }, name: settings.prod.split(".")[0]!, sources };
}
