import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, envUser, environments, parseEnvNames } from "./envs.ts";

// The configuration's edges, each as a user would meet it (mutation testing found them unasserted).
describe("deployment configuration", () => {
  it("defaults: the seed's names and ports, one user per environment, no trusted proxy, plain HTTP", () => {
    expect(DEFAULT_CONFIG).toEqual({ deployUser: "my-awesome-project", isolation: "per-environment", project: "myproject", basePort: 7030, defaultBranch: "master", trustedProxies: [], https: false });
  });

  it("gives each environment its own user, or the one shared user, and every path from the table", () => {
    expect(envUser(DEFAULT_CONFIG, "prod")).toBe("my-awesome-project-prod");
    expect(envUser(DEFAULT_CONFIG, "%i")).toBe("my-awesome-project-%i");
    expect(envUser({ ...DEFAULT_CONFIG, isolation: "shared" }, "prod")).toBe("my-awesome-project");
    const prod = environments()[2]!;
    expect(prod).toMatchObject({ user: "my-awesome-project-prod", venvs: "/home/my-awesome-project/prod/venvs", shared: "/home/my-awesome-project/prod/shared", media: "/home/my-awesome-project/prod/shared/media", staticRoot: "/home/my-awesome-project/prod/myproject/static", home: "/home/my-awesome-project", root: "/home/my-awesome-project/prod" });
  });

  it("fits the longest user name into Linux's 32: 24 characters per environment, 32 shared", () => {
    expect(() => environments({ deployUser: "a".repeat(24) })).not.toThrow();
    expect(() => environments({ deployUser: "a".repeat(25) })).toThrow(`deploy user "${"a".repeat(25)}": not a valid Linux user name (lowercase letters, digits, '-' and '_', at most 24, as each environment's user adds -<env>)`);
    expect(() => environments({ deployUser: "a".repeat(32), isolation: "shared" })).not.toThrow();
    expect(() => environments({ deployUser: "a".repeat(33), isolation: "shared" })).toThrow(`deploy user "${"a".repeat(33)}": not a valid Linux user name (lowercase letters, digits, '-' and '_', at most 32)`);
  });

  it("refuses an isolation it does not know, naming both it knows", () => {
    expect(() => environments({ isolation: "none" as never })).toThrow('isolation "none": choose per-environment (a Unix user per environment, the default) or shared (the seed\'s one user)');
  });

  it("takes IPv4 and IPv6 addresses and CIDRs as trusted proxies, and nothing else", () => {
    for (const ok of ["10.0.0.0/8", "192.168.1.5", "172.16.0.0/12", "::1", "fd00::/8", "FD00::1/128", "10.0.0.10/8", "192.168.100.200"]) expect(() => environments({ trustedProxies: [ok] }), ok).not.toThrow();
    expect(() => environments({ trustedProxies: undefined }), "none given").not.toThrow();
    for (const bad of ["10.0.0/8", "1.2.3.4/", "1.2.3.4/123", "10.0.0.0/8;x", "abc", " 1.2.3.4", "x1.2.3.4", "1.2.3.4.5", "1234.1.1.1", "1.2.3.1234", "fd00::/1234", "::1 1", "g::1", "x:fd00::1"]) {
      expect(() => environments({ trustedProxies: [bad] }), bad).toThrow(`trusted proxy "${bad}": not an IP address or CIDR (e.g. 10.0.0.0/8)`);
    }
  });

  it("takes base ports from 1024 to 65533 (three are used)", () => {
    expect(environments({ basePort: 1024 })[0]!.port).toBe(1024);
    expect(environments({ basePort: 65533 })[2]!.port).toBe(65535);
    for (const p of [1023, 65534, 7030.5]) expect(() => environments({ basePort: p }), String(p)).toThrow(`base port ${p}: must be an integer from 1024 to 65533 (three ports are used)`);
  });

  it("reads an environment list with spaces and empty items, and names an unknown one", () => {
    expect(parseEnvNames(" dev , prod ,")).toEqual(["dev", "prod"]);
    expect(() => parseEnvNames("dev,qa")).toThrow('environment "qa": unknown; choose from dev, staging, prod');
  });
});
