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
