import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "./keys.ts";

describe("ssh keys", () => {
  it("5,000 keys in a row all parse (ssh2's own generator fails about 0.4 % of the time)", () => {
    let unparsable = 0;
    for (let i = 0; i < 5000; i++) {
      const k = generateKeyPair(`k${i}`);
      if (ssh2.utils.parseKey(k.private) instanceof Error) unparsable++;
    }
    expect(unparsable).toBe(0);
  });
});
