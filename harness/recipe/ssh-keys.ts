import type { DeploymentConfig, EnvName } from "../domain/envs.ts";
import { releaseDispatcherPath } from "../release/tool.ts";

/**
 * Who may log in to the app server, and as what. A CI deploy key may deploy the environments it is
 * for and do nothing else: in authorized_keys it carries `restrict` (no forwarding of ports, agent
 * or X11, no terminal) and a forced command, the release tool's dispatcher (release-ssh.py), which
 * runs the release tool or an rsync upload for those environments only. A person's (operator's)
 * key gets a shell, as an operator's own key would.
 */
export interface DeployKey {
  /** The public key line (`ssh-ed25519 AAAA... comment`). */
  key: string;
  /** The environments it deploys: GitLab gives each environment's jobs its own (an environment-scoped variable). */
  envs: EnvName[];
}

export interface AuthorizedKeys {
  deploy: DeployKey[];
  /** People's keys: a shell as each environment's user. */
  operator: string[];
}

export const NO_KEYS: AuthorizedKeys = { deploy: [], operator: [] };

const KEY_LINE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+=*$/;

/** The key's type and body only: a comment is dropped, and anything that is not a key line is refused. */
function keyOnly(line: string): string {
  const key = line.trim().split(/[ \t]+/).slice(0, 2).join(" ");
  if (/[\r\n]/.test(line.trim()) || !KEY_LINE.test(key)) throw new Error(`not an OpenSSH public key line: ${JSON.stringify(line.slice(0, 40))}...`);
  return key;
}

/**
 * The authorized_keys of an account that runs `account` (one environment's user, or the shared user
 * running them all): each deploy key forced to the dispatcher for the environments it and the account
 * share, and the operator keys as they are. A deploy key for none of them is left out.
 */
export function authorizedKeys(config: DeploymentConfig, account: EnvName[], keys: AuthorizedKeys): string {
  const lines = keys.deploy.flatMap(({ key, envs }) => {
    const mine = envs.filter((e) => account.includes(e));
    return mine.length ? [`restrict,command="${releaseDispatcherPath(config)} ${mine.join(" ")}" ${keyOnly(key)}`] : [];
  });
  return [...lines, ...keys.operator.map(keyOnly)].map((l) => `${l}\n`).join("");
}
