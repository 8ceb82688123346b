/**
 * The environment table: the single source for units, nginx sites, pipeline jobs and assertions.
 * Everything that names a port, path, unit, database or branch derives it from here.
 */

export type EnvName = "dev" | "staging" | "prod";
export const ENV_NAMES: readonly EnvName[] = ["dev", "staging", "prod"];

/** Which branches deploy to an environment, as GitLab decides it. */
export type BranchRule =
  | { kind: "default" } // $CI_DEFAULT_BRANCH
  | { kind: "named"; branch: string }
  | { kind: "other" }; // every branch not claimed by another environment

export interface DeploymentConfig {
  /** The deploy user on the app server (the seed's project-named user). */
  deployUser: string;
  /** The Django project package, and its directory name on the server. */
  project: string;
  /** dev listens on basePort, staging on +1, prod on +2 (the seed's 7030, 7031, 7032). */
  basePort: number;
  /** The branch `production` deploys from, when not the repository's default. */
  defaultBranch: string;
}

export const DEFAULT_CONFIG: DeploymentConfig = {
  deployUser: "my-awesome-project",
  project: "myproject",
  basePort: 7030,
  defaultBranch: "master",
};

export interface Environment {
  name: EnvName;
  /** The GitLab job that deploys it. */
  job: string;
  port: number;
  branch: BranchRule;
  home: string;
  /** The project checkout the pipeline rsyncs into. */
  dir: string;
  venv: string;
  staticRoot: string;
  /** Secrets and database settings, outside the rsync tree, mode 0600. */
  envFile: string;
  unit: string;
  socket: string;
  database: string;
  role: string;
  /** nginx site name under sites-available. */
  site: string;
}

const ROWS: ReadonlyArray<{ name: EnvName; job: string; offset: number; branch: BranchRule }> = [
  { name: "dev", job: "dev", offset: 0, branch: { kind: "other" } },
  { name: "staging", job: "staging", offset: 1, branch: { kind: "named", branch: "staging" } },
  { name: "prod", job: "production", offset: 2, branch: { kind: "default" } },
];

export function environments(config: Partial<DeploymentConfig> = {}): Environment[] {
  const c = { ...DEFAULT_CONFIG, ...config };
  validateConfig(c);
  const home = `/home/${c.deployUser}`;
  return ROWS.map(({ name, job, offset, branch }) => {
    const dir = `${home}/${name}/${c.project}`;
    const slug = c.project.replace(/[^a-z0-9_]/gi, "_").toLowerCase();
    return {
      name,
      job,
      port: c.basePort + offset,
      branch,
      home,
      dir,
      venv: `${dir}/${c.project}env`,
      staticRoot: `${dir}/static`,
      envFile: `${home}/${name}/${c.project}.env`,
      unit: `gunicorn@${name}`,
      socket: `${dir}/${c.project}.sock`,
      database: `${slug}_${name}`,
      role: `${slug}_${name}`,
      site: `${c.project}-${name}`,
    };
  });
}

export function environment(name: EnvName, config: Partial<DeploymentConfig> = {}): Environment {
  return environments(config).find((e) => e.name === name)!;
}

export function validateConfig(c: DeploymentConfig): void {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(c.deployUser)) {
    throw new Error(`deploy user "${c.deployUser}": not a valid Linux user name (lowercase letters, digits, '-' and '_', at most 32)`);
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.project)) {
    throw new Error(`project "${c.project}": not a valid Python package name`);
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
