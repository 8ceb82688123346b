import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { knownHostKeys } from "./known-hosts.ts";

describe("known_hosts", () => {
  it("finds a host's keys by name, by [name]:port, and hashed, and nothing of other hosts", () => {
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("[db.example]:2222").digest("base64")}`;
    const text = ["# a comment", "app.example,10.0.0.2 ssh-ed25519 AAAAapp", "[app.example]:2222 ssh-ed25519 AAAAport", `${hashed} ssh-ed25519 AAAAhashed`, "@revoked app.example ssh-rsa AAAArevoked", "other ssh-ed25519 AAAAother"].join("\n");
    expect(knownHostKeys(text, "app.example")).toEqual(["AAAAapp"]);
    expect(knownHostKeys(text, "10.0.0.2")).toEqual(["AAAAapp"]);
    expect(knownHostKeys(text, "app.example", 2222)).toEqual(["AAAAport"]);
    expect(knownHostKeys(text, "db.example", 2222)).toEqual(["AAAAhashed"]);
    expect(knownHostKeys(text, "nowhere")).toEqual([]);
  });
});
