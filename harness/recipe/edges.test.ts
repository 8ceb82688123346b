import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, environments } from "../domain/envs.ts";
import { sampleProjectDir } from "../domain/fixtures.ts";
import { loadProject } from "../project/detect.ts";
import { envFile, envFileValue } from "./env-file.ts";
import { HBA_BEGIN, HBA_END, pgHbaBlock, withHbaBlock } from "./pg-hba.ts";
import { authorizedKeys, NO_KEYS } from "./ssh-keys.ts";

// Edges of the recipe's file generators, each as a server would meet it (mutation testing found them unasserted).
const envs = environments();
const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm";

describe("pg_hba's managed block", () => {
  let block: string;
  beforeEach(() => {
    block = pgHbaBlock(envs.slice(0, 1), "10.0.0.3");
  });
  it("is the block's own lines, ending in a newline", () => {
    expect(block).toBe(`${HBA_BEGIN}\nhost    myproject_dev        myproject_dev        10.0.0.3/32    scram-sha-256\n${HBA_END}\n`);
  });
  it("is appended after the file's own lines, with one newline between, to an empty file too", () => {
    expect(withHbaBlock("local all postgres peer", block)).toBe(`local all postgres peer\n${block}`);
    expect(withHbaBlock("local all postgres peer\n\n\n", block)).toBe(`local all postgres peer\n${block}`);
    expect(withHbaBlock("", block)).toBe(`\n${block}`);
  });
  it("replaces itself where it stands, at the top of the file too, and keeps what follows", () => {
    const old = pgHbaBlock(envs.slice(0, 1), "10.0.0.9");
    expect(withHbaBlock(`${old}host all all 0.0.0.0/0 reject\n`, block)).toBe(`${block}host all all 0.0.0.0/0 reject\n`);
    expect(withHbaBlock(`a\n${old}b\n`, block)).toBe(`a\n${block}b\n`);
  });
  it("keeps what follows its end marker on the same line, and the line break after it", () => {
    expect(withHbaBlock(`${HBA_BEGIN}\nold\n${HBA_END} kept\nnext\n`, block)).toBe(`${block} kept\nnext\n`);
  });
  it("is appended when only its end marker is there", () => {
    expect(withHbaBlock(`a\n${HBA_END}\n`, block)).toBe(`a\n${HBA_END}\n${block}`);
  });
  it("is appended, not spliced, when the markers are out of order", () => {
    const broken = `${HBA_END}\nx\n${HBA_BEGIN}\n`;
    expect(withHbaBlock(broken, block)).toBe(`${broken}${block}`);
  });
});

describe("authorized_keys lines", () => {
  it("is empty with no keys", () => {
    expect(authorizedKeys(DEFAULT_CONFIG, ["dev"], NO_KEYS)).toBe("");
    expect(NO_KEYS).toEqual({ deploy: [], operator: [] });
  });
  it("takes each key type ssh knows, with tabs or spaces and a comment, and keeps only type and key", () => {
    for (const type of ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com"]) {
      expect(authorizedKeys(DEFAULT_CONFIG, ["dev"], { deploy: [], operator: [`  ${type}\tAAAAB3Nza== a person@laptop  `] })).toBe(`${type} AAAAB3Nza==\n`);
    }
    // Several blanks between the fields, and the line break a pasted .pub file ends with.
    expect(authorizedKeys(DEFAULT_CONFIG, ["dev"], { deploy: [], operator: [`ssh-ed25519 \t  AAAAB3Nza==  \t me`, `ssh-rsa AAAAB3Nza==\n`] })).toBe(`ssh-ed25519 AAAAB3Nza==\nssh-rsa AAAAB3Nza==\n`);
  });
  it("refuses other types, options of its own, and keys with a character of another kind", () => {
    for (const bad of ["ssh-dss AAAAB3", `from="10.0.0.1" ${ED}`, `x${ED}`, "ssh-ed25519 AAAA$(id)", "ssh-ed25519", `${ED}\nssh-rsa AAAA`]) {
      expect(() => authorizedKeys(DEFAULT_CONFIG, ["dev"], { deploy: [], operator: [bad] }), bad).toThrow(/not an OpenSSH public key line/);
    }
    // The error quotes the line's start only: a private key pasted by mistake is not printed whole.
    const pasted = `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ`;
    expect(() => authorizedKeys(DEFAULT_CONFIG, ["dev"], { deploy: [], operator: [pasted] })).toThrow(`not an OpenSSH public key line: ${JSON.stringify(pasted.slice(0, 40))}...`);
  });
});

describe("the environment file's values", () => {
  it("refuses a line break or NUL, naming the variable", () => {
    for (const v of ["a\nb", "a\rb", "a\0b"]) expect(() => envFileValue("DJANGO_SECRET_KEY", v)).toThrow("environment file: DJANGO_SECRET_KEY contains a line break or NUL, which an environment file cannot hold");
  });
  it("says HTTPS outright, both ways, and joins the allowed hosts with commas", () => {
    const project = loadProject(sampleProjectDir());
    const plain = envFile(envs[2]!, { secretKey: "k", dbPassword: "p" }, "db", ["a.example", "b.example"], project);
    expect(plain).toMatch(/^DJANGO_HTTPS="0"$/m);
    expect(plain).toMatch(/^RELEASE_HTTPS="0"$/m);
    expect(plain).toMatch(/^DJANGO_ALLOWED_HOSTS="a\.example,b\.example"$/m);
    const tls = envFile(envs[2]!, { secretKey: "k", dbPassword: "p" }, "db", ["a.example"], project, true);
    expect(tls).toMatch(/^DJANGO_HTTPS="1"$/m);
    expect(tls).toMatch(/^RELEASE_HTTPS="1"$/m);
  });
});
