/**
 * The environment table: the single source for units, nginx sites, pipeline jobs and assertions.
 * Everything that names a port, path, unit, database or branch derives it from here, and every
 * path comes from one function (envPaths) that the unit template calls with "%i".
 */

export type EnvName = "dev" | "staging" | "prod";
export const ENV_NAMES: readonly EnvName[] = ["dev", "staging", "prod"];

/** Which branches deploy to an environment, as GitLab decides it. */
export type BranchRule =
  | { kind: "default" } // $CI_DEFAULT_BRANCH
  | { kind: "named"; branch: string }
  | { kind: "other" }; // every branch not claimed by another environment

/**
 * Who runs each environment on the app server. "per-environment" (the default): a Unix user per
 * environment (`<deployUser>-<env>`), owning only its own tree, environment file, venvs and uploads,
 * so code deployed to dev cannot read prod's secrets or touch its releases. "shared": the seed's one
 * deploy user for every environment (any branch's code can read every environment's secrets).
 */
export type Isolation = "per-environment" | "shared";

export interface DeploymentConfig {
  /** The deploy user on the app server (the seed's project-named user); per environment, the prefix of each one's user. */
  deployUser: string;
  isolation: Isolation;
  /** The Django project package, and its directory name on the server. */
  project: string;
  /** dev listens on basePort, staging on +1, prod on +2 (the seed's 7030, 7031, 7032). */
  basePort: number;
  /** The branch `production` deploys from, when not the repository's default. */
  defaultBranch: string;
  /**
   * Proxies in front of nginx whose X-Forwarded-Proto nginx passes on (CIDRs); from anyone else it
   * is replaced by nginx's own scheme, so a client cannot claim HTTPS. Empty: nobody's.
   */
  trustedProxies: string[];
  /** People reach the site over HTTPS, at such a proxy: DJANGO_HTTPS=1, and production's HTTPS checks apply. */
  https: boolean;
}

export const DEFAULT_CONFIG: DeploymentConfig = {
  deployUser: "my-awesome-project",
  isolation: "per-environment",
  project: "myproject",
  basePort: 7030,
  defaultBranch: "master",
  trustedProxies: [],
  https: false,
};

/** The seed's two servers (MyAppServer, MyDatabaseServer), by the names the testbed gives them. */
export const SEED_SERVERS = { app: "myappserver", db: "mydatabaseserver" } as const;

/** How many complete releases an environment keeps (the live one included). */
export const RELEASES_KEPT = 5;

/**
 * Where an environment lives on the app server. `name` is an environment or systemd's "%i", so the
 * template unit and the table can never disagree.
 *
 *   ~/<env>/myproject        the live path (the seed's), a symlink to one release, switched by rename
 *   ~/<env>/releases/<id>    complete releases, each with its code, collected static files and a
 *                            link `myprojectenv` to its venv
 *   ~/<env>/venvs/<key>      venvs, one per requirements.txt and Python, shared by releases
 *   ~/<env>/shared/media/    user uploads (MEDIA_ROOT), linked into every release as `media`
 *   ~/<env>/myproject.env    settings and secrets, mode 0600
 *   ~/<env>/myproject.sock   gunicorn's socket, held by systemd across restarts
 */
/** The Unix user that owns and runs an environment (or the template's, with "%i"). */
export function envUser(config: Pick<DeploymentConfig, "deployUser" | "isolation">, name: EnvName | "%i"): string {
  return config.isolation === "shared" ? config.deployUser : `${config.deployUser}-${name}`;
}

export function envPaths(config: DeploymentConfig, name: EnvName | "%i") {
  const home = `/home/${config.deployUser}`;
  const root = `${home}/${name}`;
  const dir = `${root}/${config.project}`;
  return {
    home,
    root,
    dir,
    releases: `${root}/releases`,
    venvs: `${root}/venvs`,
    shared: `${root}/shared`,
    media: `${root}/shared/media`,
    venv: `${dir}/${config.project}env`,
    staticRoot: `${dir}/static`,
    envFile: `${root}/${config.project}.env`,
    socket: `${root}/${config.project}.sock`,
  };
}

export type EnvPaths = ReturnType<typeof envPaths>;

export interface Environment extends EnvPaths {
  name: EnvName;
  /** The Unix user that owns its tree and runs its gunicorn and deploys (envUser). */
  user: string;
  /** The GitLab job that deploys it. */
  job: string;
  port: number;
  branch: BranchRule;
  unit: string;
  database: string;
  role: string;
  /** nginx site name under sites-available. */
  site: string;
  /** GitLab's deployment_tier for it. */
  tier: "development" | "staging" | "production";
  /** gunicorn's worker processes (WEB_CONCURRENCY in the environment file). */
  workers: number;
  /** The largest request nginx accepts, uploads included (client_max_body_size), in MiB. */
  maxUploadMiB: number;
}

// Workers per environment: dev and staging serve a few people and need one; prod keeps two, so
// that one slow request does not queue the rest. Each worker imports the whole project at every
// start (about 0.25 core-second here), and every deploy and boot starts them again.
// Uploads: nginx's default (1 MiB) refused an ordinary photo with 413 before Django saw it.
const ROWS: ReadonlyArray<{ name: EnvName; job: string; offset: number; branch: BranchRule; tier: Environment["tier"]; workers: number; maxUploadMiB: number }> = [
  { name: "dev", job: "dev", offset: 0, branch: { kind: "other" }, tier: "development", workers: 1, maxUploadMiB: 20 },
  { name: "staging", job: "staging", offset: 1, branch: { kind: "named", branch: "staging" }, tier: "staging", workers: 1, maxUploadMiB: 20 },
  { name: "prod", job: "production", offset: 2, branch: { kind: "default" }, tier: "production", workers: 2, maxUploadMiB: 20 },
];

/** The unit name of an environment, or of the template with "%i". */
export const gunicornUnit = (name: EnvName | "%i") => `gunicorn@${name}`;

export function environments(config: Partial<DeploymentConfig> = {}): Environment[] {
  const c = { ...DEFAULT_CONFIG, ...config };
  validateConfig(c);
  const slug = c.project.toLowerCase();
  return ROWS.map(({ name, job, offset, branch, tier, workers, maxUploadMiB }) => ({
    name,
    job,
    tier,
    workers,
    maxUploadMiB,
    port: c.basePort + offset,
    branch,
    ...envPaths(c, name),
    user: envUser(c, name),
    unit: gunicornUnit(name),
    database: `${slug}_${name}`,
    role: `${slug}_${name}`,
    site: `${c.project}-${name}`,
  }));
}

/**
 * Names go into paths, unit files, sudoers and SQL identifiers; they are quoted wherever they are
 * used (harness/shell/quote.ts), and checked here so that a bad one fails early with a clear message.
 */
export function validateConfig(c: DeploymentConfig): void {
  // Per environment, "-staging" is added: the longest user name must still fit Linux's 32.
  const max = c.isolation === "shared" ? 32 : 32 - "-staging".length;
  if (!new RegExp(`^[a-z_][a-z0-9_-]{0,${max - 1}}$`).test(c.deployUser)) {
    throw new Error(`deploy user "${c.deployUser}": not a valid Linux user name (lowercase letters, digits, '-' and '_', at most ${max}${c.isolation === "shared" ? "" : ", as each environment's user adds -<env>"})`);
  }
  if (c.isolation !== "per-environment" && c.isolation !== "shared") {
    throw new Error(`isolation "${String(c.isolation)}": choose per-environment (a Unix user per environment, the default) or shared (the seed's one user)`);
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.project)) {
    throw new Error(`project "${c.project}": not a valid Python package name`);
  }
  for (const cidr of c.trustedProxies ?? []) {
    // IPv4, or IPv6 (hex digits and at least one colon), each with an optional prefix length.
    if (!/^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$|^(?=[0-9a-f]*:)[0-9a-f:]+(\/\d{1,3})?$/i.test(cidr)) {
      throw new Error(`trusted proxy "${cidr}": not an IP address or CIDR (e.g. 10.0.0.0/8)`);
    }
  }
  if (!Number.isInteger(c.basePort) || c.basePort < 1024 || c.basePort > 65533) {
    throw new Error(`base port ${c.basePort}: must be an integer from 1024 to 65533 (three ports are used)`);
  }
}

export function parseEnvNames(list: string): EnvName[] {
  const names = list.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!ENV_NAMES.includes(n as EnvName)) throw new Error(`environment "${n}": unknown; choose from ${ENV_NAMES.join(", ")}`);
  }
  return names as EnvName[];
}
