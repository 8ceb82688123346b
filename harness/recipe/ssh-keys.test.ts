import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../domain/envs.ts";
import { authorizedKeys } from "./ssh-keys.ts";

const key = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(n).repeat(43).slice(0, 43)} ci-${n}@testbed`;
const keys = { deploy: [{ key: key(1), envs: ["dev" as const] }, { key: key(2), envs: ["prod" as const] }, { key: key(3), envs: ["dev" as const, "staging" as const, "prod" as const] }], operator: [key(9)] };

describe("authorized_keys", () => {
  it("forces each deploy key to the dispatcher for the environments it shares with the account, with restrict; an operator's key gets a shell", () => {
    const dev = authorizedKeys(DEFAULT_CONFIG, ["dev"], keys).trim().split("\n");
    expect(dev).toEqual([
      `restrict,command="/usr/local/bin/myproject-release-ssh dev" ${key(1).split(" ").slice(0, 2).join(" ")}`,
      `restrict,command="/usr/local/bin/myproject-release-ssh dev" ${key(3).split(" ").slice(0, 2).join(" ")}`,
      key(9).split(" ").slice(0, 2).join(" "),
    ]);
    // prod's key never reaches dev's account, nor dev's prod's.
    expect(authorizedKeys(DEFAULT_CONFIG, ["prod"], keys)).not.toContain(key(1).split(" ")[1]);
    const shared = authorizedKeys(DEFAULT_CONFIG, ["dev", "staging", "prod"], keys);
    expect(shared).toContain(`command="/usr/local/bin/myproject-release-ssh dev staging prod"`);
  });

  it("refuses a line that is not a key, so nothing can add options of its own", () => {
    expect(() => authorizedKeys(DEFAULT_CONFIG, ["dev"], { deploy: [{ key: 'command="bash" ssh-ed25519 AAAA', envs: ["dev"] }], operator: [] })).toThrow(/not an OpenSSH public key line/);
    expect(() => authorizedKeys(DEFAULT_CONFIG, ["dev"], { deploy: [], operator: ["ssh-ed25519 AAAA\nssh-rsa BBBB"] })).toThrow(/not an OpenSSH public key line/);
  });
});
