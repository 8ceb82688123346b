import { parse, stringify } from "yaml";

/**
 * Realistic deployment faults, as data: the seed's mistakes, the breakages the README names, and what
 * the deploy issues found. `npm run faults` injects each one (through harness/faults/inject.ts) into a
 * run of the specs that concern it, and counts it caught only if a spec fails with its words.
 */
export type FaultPlace = "unit template" | "socket unit" | "nginx site" | "env file" | "sudoers" | "pg_hba" | "release tool" | "release steps" | "pipeline job" | "fixture" | "authorized keys";

export interface FaultInjection {
  /** A file the recipe writes to a server, by its path there. */
  file?: (path: string, text: string) => string;
  /** The mode the recipe gives a file. */
  mode?: (path: string, mode: string) => string;
  /** A pipeline as the executor receives it (the generated .gitlab-ci.yml, or a spec's from its parts). */
  pipeline?: (yaml: string) => string;
  /** The release steps, as the recipe and the pipeline run them. */
  steps?: (steps: ReadonlyArray<{ step: string }>) => ReadonlyArray<{ step: string }>;
  /** Files of the sample project, by path inside it. */
  fixture?: Record<string, (text: string) => string>;
}

export interface Fault {
  id: string;
  description: string;
  where: FaultPlace;
  inject: FaultInjection;
  /** Words the first failure's message must contain, each (case-insensitive): the cause, named. */
  words: string[];
  /** The e2e spec files that concern it (under specs/e2e, without `.test.ts`). */
  specs: string[];
  /** Only the tests whose full name matches (vitest's -t); all of the files' tests when absent. */
  tests?: string;
}

/** Replaces `from` in `text`, and fails loudly if it is not there: a fault that changes nothing would count as missed. */
export function mustReplace(text: string, from: string | RegExp, to: string, what: string): string {
  const next = text.replace(from, to);
  if (next === text) throw new Error(`fault ${what}: ${String(from)} not found in the text it changes; update harness/faults/catalogue.ts`);
  return next;
}

/** A change to the files whose server path matches `path`; every other file passes through. */
const onFile = (path: RegExp, change: (text: string) => string) => (p: string, text: string) => (path.test(p) ? change(text) : text);
const replaceIn = (id: string, path: RegExp, from: string | RegExp, to: string) => onFile(path, (t) => mustReplace(t, from, to, id));

const SERVICE = /\/etc\/systemd\/system\/gunicorn@\.service$/;
const SOCKET = /\/etc\/systemd\/system\/gunicorn@\.socket$/;
const SITE = /\/etc\/nginx\/sites-available\//;
const ENV_FILE = /\/[^/]+\.env$/;
const PROD_ENV_FILE = /\/prod\/[^/]+\.env$/;
const SUDOERS = /\/etc\/sudoers\.d\//;
const PG_HBA = /pg_hba\.conf$/;
const RELEASE_TOOL = /\/usr\/local\/bin\/[^/]+-release$/;
const RELEASE_TOOL_LIBRARY = /\/usr\/local\/lib\/[^/]+-release\/release_environment\.py$/;
const AUTHORIZED_KEYS = /\/\.ssh\/authorized_keys$/;

const RECIPE = ["recipe-environments"];

/**
 * A change to a pipeline as a document (its jobs by name), written back as YAML. Pipelines a spec
 * builds from the generator's parts may lack the job; a unit spec checks that each pipeline fault
 * does change the generated pipeline.
 */
const onPipeline = (change: (doc: Record<string, Record<string, unknown>>) => void) => (yaml: string) => {
  const doc = parse(yaml) as Record<string, Record<string, unknown>>;
  change(doc);
  return stringify(doc, { lineWidth: 0 });
};

export const FAULTS: ReadonlyArray<Fault> = [
  {
    id: "workdir-tilde",
    description: "The seed's WorkingDirectory=~/home/...: not a path systemd accepts",
    where: "unit template",
    inject: { file: replaceIn("workdir-tilde", SERVICE, /^WorkingDirectory=\/home\//m, "WorkingDirectory=~/home/") },
    words: ["WorkingDirectory"],
    specs: RECIPE,
    tests: "gunicorn is active",
  },
  {
    id: "no-partof",
    description: "The instances and their sockets are not PartOf=gunicorn.target: stopping the target leaves them running",
    where: "unit template",
    inject: {
      file: (p, t) => (SERVICE.test(p) || SOCKET.test(p) ? mustReplace(t, /^PartOf=gunicorn\.target\n/m, "", "no-partof") : t),
    },
    words: ["PartOf"],
    specs: RECIPE,
    tests: "stop gunicorn.target stops all three",
  },
  {
    id: "gunicorn-binds-socket",
    description: "The seed's unit: gunicorn binds its own socket, so each restart refuses connections",
    where: "unit template",
    inject: {
      file: (p, t) => {
        // The socket unit never starts, and gunicorn binds the same path itself (the live dir + ".sock").
        if (SOCKET.test(p)) return mustReplace(t, /^ConditionPathExists=.*$/m, "ConditionPathExists=/nonexistent", "gunicorn-binds-socket");
        if (!SERVICE.test(p)) return t;
        const dir = /^WorkingDirectory=(.*)$/m.exec(t)?.[1];
        const unbound = mustReplace(mustReplace(t, /^Requires=.*\n/m, "", "gunicorn-binds-socket"), /^After=network\.target .*$/m, "After=network.target", "gunicorn-binds-socket");
        return mustReplace(unbound, "--access-logfile -", `--access-logfile - --bind unix:${dir}.sock`, "gunicorn-binds-socket");
      },
    },
    words: ["502", "failed"],
    specs: ["deploy-under-traffic"],
    tests: "a code change",
  },
  {
    id: "media-in-release",
    description: "Uploads saved inside the release (no link to shared/media): the next deploy loses them",
    where: "release tool",
    inject: { file: replaceIn("media-in-release", RELEASE_TOOL_LIBRARY, 'os.symlink(os.path.relpath(self.media, app), os.path.join(app, "media"))', 'os.makedirs(os.path.join(app, "media"))') },
    words: ["upload"],
    specs: ["deploy-under-traffic"],
    tests: "deploys and rollbacks through the pipeline",
  },
  {
    id: "secret-unquoted",
    description: "The environment file's values written as they are: a secret with $, ( or & reads differently in systemd and in a shell",
    where: "env file",
    inject: { file: onFile(ENV_FILE, (t) => mustReplace(t, /^([A-Z_]+)="(.*)"$/gm, "$1=$2", "secret-unquoted").replace(/\\([\\"`$])/g, "$1")) },
    words: ["password authentication failed"],
    specs: ["recipe-environments"],
    tests: "environment prod after the recipe",
  },
  {
    id: "debug-on-in-prod",
    description: "DEBUG left on in production's environment file",
    where: "env file",
    inject: { file: replaceIn("debug-on-in-prod", PROD_ENV_FILE, 'DJANGO_DEBUG="0"', 'DJANGO_DEBUG="1"') },
    words: ["security.W018", "DEBUG"],
    specs: RECIPE,
    tests: "plain 404",
  },
  {
    id: "debug-hardcoded",
    description: "DEBUG = True written into the project's settings, whatever the environment says",
    where: "fixture",
    inject: { fixture: { "myproject/settings.py": (t) => `${t}\nDEBUG = True\n` } },
    words: ["security.W018"],
    specs: RECIPE,
    tests: "plain 404",
  },
  {
    id: "env-file-readable",
    description: "The environment file (secrets) readable by everyone on the server",
    where: "env file",
    inject: { mode: (p, m) => (ENV_FILE.test(p) ? "644" : m) },
    words: ["mode", "600"],
    specs: RECIPE,
    tests: "keeps its secrets",
  },
  {
    id: "allowed-hosts-empty",
    description: "DJANGO_ALLOWED_HOSTS left empty: Django would answer 400 to every request",
    where: "env file",
    inject: { file: replaceIn("allowed-hosts-empty", ENV_FILE, /^DJANGO_ALLOWED_HOSTS=".*"$/m, 'DJANGO_ALLOWED_HOSTS=""') },
    // Production's check --deploy stops it first (security.W020); dev and staging would answer 400.
    words: ["ALLOWED_HOSTS must not be empty"],
    specs: RECIPE,
    tests: "serves from the environment's own database",
  },
  {
    id: "nginx-static-alias",
    description: "/static/ mapped to the release itself instead of its .static link to STATIC_ROOT: every static file 404s",
    where: "nginx site",
    inject: { file: onFile(SITE, (t) => mustReplace(t, /^(\s+alias \S+)\/\.static\/;$/m, "$1/;", "nginx-static-alias")) },
    words: ["static", "404"],
    specs: RECIPE,
    tests: "serves /static/",
  },
  {
    id: "nginx-wrong-socket",
    description: "nginx proxies to a socket gunicorn does not listen on: 502 for every page",
    where: "nginx site",
    inject: { file: replaceIn("nginx-wrong-socket", SITE, /proxy_pass http:\/\/unix:[^;]+;/, "proxy_pass http://unix:/run/gunicorn.sock;") },
    words: ["502"],
    specs: RECIPE,
    tests: "serves from the environment's own database",
  },
  {
    id: "sudoers-all",
    description: "The deploy user may run anything as root (NOPASSWD: ALL)",
    where: "sudoers",
    inject: { file: replaceIn("sudoers-all", SUDOERS, /NOPASSWD: \S+$/m, "NOPASSWD: ALL") },
    words: ["sudo -l", "NOPASSWD: ALL"],
    specs: RECIPE,
    tests: "sudo -l allows exactly",
  },
  {
    id: "sudoers-no-restart",
    description: "sudoers does not let the deploy user restart gunicorn: every switch onto a running gunicorn fails",
    where: "sudoers",
    inject: { file: replaceIn("sudoers-no-restart", SUDOERS, /\/usr\/bin\/systemctl restart /g, "/usr/bin/systemctl status ") },
    words: ["sudo", "restart"],
    // A first deploy only starts gunicorn (still allowed); the next deploy restarts it.
    specs: ["deploy-under-traffic"],
    tests: "a code change",
  },
  {
    id: "pg-hba-anywhere",
    description: "pg_hba admits the roles from any address, not only the app server",
    where: "pg_hba",
    inject: { file: replaceIn("pg-hba-anywhere", PG_HBA, /(\d+\.\d+\.\d+\.\d+)\/32 /g, "0.0.0.0/0 ") },
    words: ["pg_hba.conf admits", "0.0.0.0/0"],
    specs: RECIPE,
    tests: "cannot connect from anywhere but the app server",
  },
  {
    id: "pg-hba-wrong-host",
    description: "pg_hba admits 127.0.0.1, not the app server: the app cannot reach its database",
    where: "pg_hba",
    inject: { file: replaceIn("pg-hba-wrong-host", PG_HBA, /(\d+\.\d+\.\d+\.\d+)\/32 /g, "127.0.0.1/32 ") },
    words: ["pg_hba.conf"],
    specs: RECIPE,
    tests: "has every migration",
  },
  {
    id: "no-collectstatic",
    description: "collectstatic never runs: the release has no static/ and nginx 404s",
    where: "release steps",
    inject: { steps: (s) => s.filter((x) => x.step !== "collectstatic") },
    words: ["collectstatic", "404"],
    specs: RECIPE,
    tests: "serves /static/",
  },
  {
    id: "no-migrate",
    description: "migrate never runs: new tables and columns are missing",
    where: "release steps",
    inject: { steps: (s) => s.filter((x) => x.step !== "migrate") },
    words: ["unapplied migration", "notes.0002_note_pinned"],
    specs: RECIPE,
    tests: "has every migration",
  },
  {
    id: "switch-before-migrate",
    description: "The release goes live before its migrations ran: a failing migration leaves new code serving",
    where: "release steps",
    inject: {
      steps: (s) => {
        const sw = s.find((x) => x.step === "switch")!;
        const rest = s.filter((x) => x !== sw);
        const at = rest.findIndex((x) => x.step === "migrate");
        return [...rest.slice(0, at), sw, ...rest.slice(at)];
      },
    },
    words: ["switch", "before", "migrate"],
    specs: ["pipeline-branches"],
    tests: "a migration that raises",
  },
  {
    id: "rollback-ignores-migrations",
    description: "A rollback past a migration goes ahead without a word: old code on a newer schema",
    where: "release tool",
    inject: { file: replaceIn("rollback-ignores-migrations", RELEASE_TOOL, "if missing and not args.allow_migrations:", "if False:") },
    words: ["rollback past migration", "went ahead without --allow-migrations"],
    // These tests build on each other (each deploys the next commit): all of them run.
    specs: ["deploy-under-traffic"],
    tests: "deploys and rollbacks through the pipeline",
  },
  {
    id: "strict-host-key-no",
    description: "The seed's StrictHostKeyChecking no: a job deploys to whichever server answers",
    where: "pipeline job",
    inject: { pipeline: (y) => y.replace(/StrictHostKeyChecking yes/g, "StrictHostKeyChecking no") },
    words: ["Permanently added", "StrictHostKeyChecking is not yes"],
    specs: ["pipeline-branches"],
    tests: "SSH_KNOWN_HOSTS without this server|a host key that does not match",
  },
  {
    id: "prod-on-every-branch",
    description: "The production job runs on every branch",
    where: "pipeline job",
    inject: { pipeline: onPipeline((doc) => doc.production && Object.assign(doc.production, { rules: [{ if: "$CI_COMMIT_BRANCH" }] })) },
    words: ["production"],
    specs: ["pipeline-branches"],
    tests: "runs only dev",
  },
  {
    id: "key-crlf-kept",
    description: "The deploy key's CRLF line endings are kept: ssh cannot load the key",
    where: "pipeline job",
    inject: { pipeline: (y) => y.replaceAll(" | tr -d '\\r'", "") },
    words: ["CRLF", "libcrypto"],
    specs: ["pipeline-branches"],
    tests: "CRLF line endings",
  },
  {
    id: "no-resource-group",
    description: "No resource_group: two pipelines deploy one environment at the same time",
    where: "pipeline job",
    inject: { pipeline: onPipeline((doc) => Object.values(doc).forEach((job) => delete job.resource_group)) },
    words: ["one after the other"],
    specs: ["pipeline-branches"],
    // It deploys the commit before the failing migration the test before it commits.
    tests: "a migration that raises|resource_group",
  },
  {
    id: "rsync-delete-venv",
    description: "A second upload with rsync --delete after the venv step removes the release's venv link",
    where: "pipeline job",
    inject: {
      pipeline: (y) => y.replace(/^(\s+- )(ssh deploy-target \S+ \w+ venv "\$RELEASE".*)$/gm, '$1$2\n$1rsync -rlc --delete --itemize-changes --exclude=/media ./ "deploy-target:$$RELEASE/"'),
    },
    words: ["venv", "myprojectenv"],
    specs: ["pipeline-branches"],
    tests: "runs only production",
  },
  {
    id: "ci-key-shell",
    description: "The CI deploy keys go into authorized_keys without restrict and the forced command: each is a full shell",
    where: "authorized keys",
    inject: { file: onFile(AUTHORIZED_KEYS, (t) => t.replace(/^restrict,command="[^"]*" /gm, "")) },
    words: ["bash", "126"],
    specs: ["isolation"],
    tests: "dev deploy key",
  },
  {
    id: "sudo-other-environment",
    description: "sudoers lets dev's user restart prod's gunicorn too",
    where: "sudoers",
    inject: { file: onFile(SUDOERS, (t) => `${t}my-awesome-project-dev ALL=(root) NOPASSWD: GUNICORN_MYPROJECT_PROD\n`) },
    words: ["restart gunicorn@prod", "succeeded"],
    specs: ["isolation"],
    tests: "code on a dev branch",
  },
  {
    id: "forwarded-proto-overwritten",
    description: "nginx sends its own scheme as X-Forwarded-Proto even from the trusted TLS proxy (Debian's proxy_params): HTTPS sites redirect forever",
    where: "nginx site",
    // Only sites behind a trusted proxy have the variable; the others already send $scheme.
    inject: { file: onFile(SITE, (t) => t.replace(/proxy_set_header X-Forwarded-Proto \$\w+_forwarded_proto;/, "proxy_set_header X-Forwarded-Proto $scheme;")) },
    words: ["through the TLS proxy", "301"],
    specs: ["recipe-config"],
  },
  {
    id: "rollback-by-name",
    description: "Rollback goes to the release before the live one by name, not by history: back onto a release already rolled back from",
    where: "release tool",
    inject: { file: replaceIn("rollback-by-name", RELEASE_TOOL_LIBRARY, 'if any(e["event"] == "live" and e["release"] == live for e in history):', "if False:") },
    words: ["R6", "rolled back from"],
    specs: ["kill-loop-switch"],
    tests: "R6",
  },
  {
    id: "step-outlives-connection",
    description: "A step of a killed job goes on running on the server (no watchdog on its ssh connection)",
    where: "release tool",
    inject: { file: replaceIn("step-outlives-connection", RELEASE_TOOL, "state.die_with_connection()", "pass") },
    words: ["outlived its ssh connection"],
    specs: ["kill-loop"],
    tests: "killed alone",
  },
];

