import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import ssh2 from "ssh2";

export interface KeyText {
  private: string;
  public: string;
}

/**
 * An ed25519 key pair that ssh2 itself can read back. ssh2's generator sometimes drops a leading
 * zero byte and writes a key that no parser accepts (mscdex/ssh2#1513: 19 of 5,000 here), which
 * failed about one suite run in fifteen; such a key is simply made again.
 */
export function generateKeyPair(comment = ""): KeyText {
  for (let attempt = 1; ; attempt++) {
    const k = ssh2.utils.generateKeyPairSync("ed25519", { comment });
    if (!(ssh2.utils.parseKey(k.private) instanceof Error) && !(ssh2.utils.parseKey(k.public) instanceof Error)) return k;
    if (attempt >= 20) throw new Error(`ssh key generation: 20 keys in a row did not parse; the ssh2 package may be broken`);
  }
}

export interface KeyPair {
  private: string;
  public: string;
  /** The private key on disk (mode 0600), for an ssh command line. */
  path: string;
}

/** A new key pair written to `dir`/`name` (mode 0600) and `name`.pub. */
export async function makeKey(dir: string, name: string, comment: string): Promise<KeyPair> {
  const k = generateKeyPair(comment);
  const path = join(dir, name);
  await writeFile(path, k.private, { mode: 0o600 });
  await writeFile(`${path}.pub`, k.public + "\n");
  return { private: k.private, public: k.public, path };
}

/** A key pair kept in a testbed's key directory (written by Testbed.start or newKey). */
export async function readKey(keyDir: string, name: string): Promise<KeyPair> {
  const path = join(keyDir, name);
  return { path, private: await readFile(path, "utf8"), public: (await readFile(`${path}.pub`, "utf8")).trim() };
}
