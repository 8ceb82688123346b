import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, environments } from "../envs.ts";
import { envFile } from "./env-file.ts";
import { nginxSite } from "./nginx.ts";
import { HBA_BEGIN, HBA_END, pgHbaBlock, withHbaBlock } from "./pg-hba.ts";
import { sudoersRule } from "./sudoers.ts";
import { gunicornTarget, gunicornTemplate } from "./units.ts";

const envs = environments();
const [dev, staging] = envs as [typeof envs[0], typeof envs[0]];

function directive(unit: string, key: string): string {
  const m = unit.match(new RegExp(`^${key}=(.*)$`, "m"));
  if (!m) throw new Error(`${key}= missing`);
  return m[1]!;
}

describe("gunicorn units", () => {
  const unit = gunicornTemplate(DEFAULT_CONFIG, envs);

  it("uses absolute paths systemd accepts (the seed's WorkingDirectory=~/home/... does not start)", () => {
    for (const key of ["WorkingDirectory", "EnvironmentFile"]) {
      expect(directive(unit, key)).toMatch(/^\/home\/my-awesome-project\/%i\//);
      expect(directive(unit, key)).not.toContain("~");
    }
    expect(directive(unit, "WorkingDirectory")).toBe("/home/my-awesome-project/%i/myproject");
  });

  it("binds the socket of the environment table, as the deploy user with group www-data", () => {
    expect(directive(unit, "User")).toBe("my-awesome-project");
    expect(directive(unit, "Group")).toBe("www-data");
    const start = directive(unit, "ExecStart");
    expect(start).toMatch(/^\/home\/my-awesome-project\/%i\/myproject\/myprojectenv\/bin\/gunicorn /);
    expect(start).toContain("--bind unix:/home/my-awesome-project/%i/myproject/myproject.sock");
    expect(start).toMatch(/ myproject\.wsgi:application$/);
    // The instance's socket is exactly the table's, once %i is replaced.
    expect(start.replace(/%i/g, "staging")).toContain(`unix:${staging.socket}`);
  });

  it("groups the instances under gunicorn.target", () => {
    expect(directive(unit, "PartOf")).toBe("gunicorn.target");
    expect(directive(unit, "WantedBy")).toBe("gunicorn.target");
    expect(directive(gunicornTarget(), "WantedBy")).toBe("multi-user.target");
  });
});

describe("nginx site", () => {
  it("listens on the environment's port, serves /static/ from STATIC_ROOT and proxies the rest to the socket", () => {
    const site = nginxSite(staging);
    expect(site).toMatch(/listen 7031;/);
    expect(site).toMatch(/location \/static\/ \{\s*root \/home\/my-awesome-project\/staging\/myproject;\s*\}/);
    expect(site).toContain("proxy_pass http://unix:/home/my-awesome-project/staging/myproject/myproject.sock;");
    expect(site).not.toMatch(/7030|7032|\/dev\//);
  });
});

describe("sudoers", () => {
  const rule = sudoersRule(DEFAULT_CONFIG, envs);
  it("allows exactly restart/start/stop/status of each gunicorn instance", () => {
    const commands = rule.match(/\/usr\/bin\/systemctl \w+ \S+?(?=,|\s*$)/gm) ?? [];
    expect(commands).toHaveLength(12);
    expect(commands).toContain("/usr/bin/systemctl restart gunicorn@dev");
    expect(commands).toContain("/usr/bin/systemctl status gunicorn@prod");
    expect(rule).toMatch(/^my-awesome-project ALL=\(root\) NOPASSWD: GUNICORN_MYPROJECT$/m);
  });
  it("has no wildcard, which in sudoers would also match extra arguments", () => {
    expect(rule).not.toContain("*");
    expect(rule).not.toMatch(/NOPASSWD:\s*ALL/);
  });
});

describe("pg_hba", () => {
  it("admits each role to its own database from the app server's address only", () => {
    const block = pgHbaBlock(envs, "172.18.0.3");
    const rows = block.split("\n").filter((l) => l.startsWith("host"));
    expect(rows.map((r) => r.split(/\s+/))).toEqual(
      envs.map((e) => ["host", e.database, e.role, "172.18.0.3/32", "scram-sha-256"]),
    );
  });
  it("replaces its own block and keeps the rest", () => {
    const original = "local all postgres peer\n";
    const once = withHbaBlock(original, pgHbaBlock(envs, "10.0.0.1"));
    const twice = withHbaBlock(once, pgHbaBlock(envs, "10.0.0.2"));
    expect(twice.startsWith(original)).toBe(true);
    expect(twice.split(HBA_BEGIN)).toHaveLength(2);
    expect(twice).toContain("10.0.0.2/32");
    expect(twice).not.toContain("10.0.0.1/32");
    expect(twice.trimEnd().endsWith(HBA_END)).toBe(true);
    expect(withHbaBlock(twice, pgHbaBlock(envs, "10.0.0.2"))).toBe(twice);
  });
});

describe("environment file", () => {
  it("carries the environment's database and secrets, never another's", () => {
    const text = envFile(dev, { secretKey: "s3cret", dbPassword: "pw" }, "mydatabaseserver", ["127.0.0.1"]);
    expect(text).toContain("DJANGO_ENV=dev\n");
    expect(text).toContain("DATABASE_NAME=myproject_dev\n");
    expect(text).toContain("DATABASE_USER=myproject_dev\n");
    expect(text).toContain("DATABASE_HOST=mydatabaseserver\n");
    expect(text).not.toMatch(/staging|prod/);
  });
});
