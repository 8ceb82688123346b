import { createHmac } from "node:crypto";

/**
 * A host's keys as an OpenSSH known_hosts file lists them, plain (`host,alias keytype key`,
 * `[host]:2222 ...`) or hashed (`|1|salt|hash ...`, HashKnownHosts), so that a connection checks
 * the server's host key exactly as `ssh` would. Markers (@cert-authority, @revoked) are skipped.
 */
export function knownHostKeys(text: string, host: string, port = 22): string[] {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const matches = (pattern: string) => {
    if (pattern.startsWith("|1|")) {
      const [, , salt, hash] = pattern.split("|");
      return createHmac("sha1", Buffer.from(salt ?? "", "base64")).update(name).digest("base64") === hash;
    }
    return pattern.split(",").includes(name);
  };
  return text
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && !f[0]!.startsWith("#") && !f[0]!.startsWith("@") && matches(f[0]!))
    .map((f) => f[2]!);
}
