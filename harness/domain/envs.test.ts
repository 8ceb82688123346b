import { describe, expect, it } from "vitest";
import { environments, parseEnvNames } from "./envs.ts";

describe("environment table", () => {
  it("derives the seed's layout from one row per environment", () => {
    const [dev, staging, prod] = environments();
    expect(dev).toMatchObject({
      name: "dev",
      job: "dev",
      port: 7030,
      dir: "/home/my-awesome-project/dev/myproject",
      unit: "gunicorn@dev",
      socket: "/home/my-awesome-project/dev/myproject.sock",
      releases: "/home/my-awesome-project/dev/releases",
      venv: "/home/my-awesome-project/dev/myproject/myprojectenv",
      database: "myproject_dev",
      branch: { kind: "other" },
    });
    expect(staging).toMatchObject({ port: 7031, branch: { kind: "named", branch: "staging" }, site: "myproject-staging" });
    expect(prod).toMatchObject({ job: "production", port: 7032, branch: { kind: "default" }, database: "myproject_prod" });
  });

  it("follows the configuration", () => {
    const envs = environments({ basePort: 8000, deployUser: "deployer", project: "shop" });
    expect(envs.map((e) => e.port)).toEqual([8000, 8001, 8002]);
    expect(envs[2]!.venv).toBe("/home/deployer/prod/shop/shopenv");
    expect(envs[1]!.envFile).toBe("/home/deployer/staging/shop.env");
  });

  it("rejects bad input with a message that names it", () => {
    expect(() => environments({ deployUser: "Bad User" })).toThrow(/deploy user "Bad User"/);
    expect(() => environments({ project: "my-project" })).toThrow(/project "my-project"/);
    expect(() => environments({ basePort: 80 })).toThrow(/base port 80/);
    expect(() => parseEnvNames("dev,qa")).toThrow(/environment "qa": unknown/);
    expect(parseEnvNames("prod, dev")).toEqual(["prod", "dev"]);
  });
});
