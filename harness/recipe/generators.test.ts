import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, environments } from "../domain/envs.ts";
import { sampleProjectDir } from "../domain/fixtures.ts";
import { loadProject } from "../project/detect.ts";
import { envFile } from "./env-file.ts";
import { parseEnvFile } from "./secrets.ts";
import { nginxSite } from "./nginx.ts";
import { HBA_BEGIN, HBA_END, pgHbaBlock, withHbaBlock } from "./pg-hba.ts";
import { releaseCommandArgs, releaseCommandSteps, releaseSteps, type ReleaseStepDef } from "../release/commands.ts";
import { sudoersRule } from "./sudoers.ts";
import { gunicornSocket, gunicornTarget, gunicornTemplate } from "./units.ts";

const envs = environments();
const [dev, staging] = envs as [typeof envs[0], typeof envs[0]];
const SAMPLE = loadProject(sampleProjectDir());

function directive(unit: string, key: string): string {
  const m = unit.match(new RegExp(`^${key}=(.*)$`, "m"));
  if (!m) throw new Error(`${key}= missing`);
  return m[1]!;
}

describe("gunicorn units", () => {
  // Made in each test, not when the file is collected: code run at collection is no test's, and a
  // mutation of it (npm run mutate) would go unseen.
  let unit: string;
  let socket: string;
  beforeEach(() => {
    unit = gunicornTemplate(DEFAULT_CONFIG, SAMPLE);
    socket = gunicornSocket(DEFAULT_CONFIG);
  });
  it("uses absolute paths systemd accepts (the seed's WorkingDirectory=~/home/... does not start)", () => {
    for (const key of ["WorkingDirectory", "EnvironmentFile"]) {
      expect(directive(unit, key)).toMatch(/^\/home\/my-awesome-project\/%i\//);
      expect(directive(unit, key)).not.toContain("~");
    }
    expect(directive(unit, "WorkingDirectory")).toBe("/home/my-awesome-project/%i/myproject");
  });
  it("runs as the environment's own user and group (never www-data's, which may enter every environment), on the socket systemd holds (no --bind)", () => {
    expect(directive(unit, "User")).toBe("my-awesome-project-%i");
    expect(unit).not.toMatch(/^Group=/m);
    // The seed's one shared user keeps its group www-data.
    expect(directive(gunicornTemplate({ ...DEFAULT_CONFIG, isolation: "shared" }, SAMPLE), "Group")).toBe("www-data");
    const start = directive(unit, "ExecStart");
    expect(start).toMatch(/^\/home\/my-awesome-project\/%i\/myproject\/myprojectenv\/bin\/gunicorn /);
    expect(start).not.toContain("--bind");
    // The project's application (RELEASE_WSGI in the environment file) through the tool's wrapper.
    expect(start).toMatch(/ --pythonpath \/usr\/local\/lib\/myproject-release release_wsgi:application$/);
    expect(directive(unit, "Requires")).toBe("gunicorn@%i.socket");
    expect(directive(socket, "SocketUser").replace(/%i/g, "staging")).toBe(staging.user);
    expect(directive(socket, "SocketGroup")).toBe("www-data");
    // The instance's socket is exactly the table's, once %i is replaced.
    expect(directive(socket, "ListenStream").replace(/%i/g, "staging")).toBe(staging.socket);
  });
  it("never refuses a deploy's restart for coming too soon after the last, and paces a crash loop instead", () => {
    expect(directive(unit, "StartLimitIntervalSec")).toBe("0");
    expect(directive(unit, "RestartSec")).toBe("1");
  });
  it("groups the instances and their sockets under gunicorn.target", () => {
    expect(directive(unit, "PartOf")).toBe("gunicorn.target");
    expect(directive(socket, "PartOf")).toBe("gunicorn.target");
    expect(directive(unit, "WantedBy")).toBe("gunicorn.target");
    expect(directive(gunicornTarget(), "WantedBy")).toBe("multi-user.target");
  });
  it("ties each instance to its own socket: needs it, starts after it, and a stop of the instance stops it", () => {
    expect(directive(unit, "Requires")).toBe("gunicorn@%i.socket");
    expect(directive(unit, "After")).toBe("network.target gunicorn@%i.socket");
    expect(directive(socket, "StopPropagatedFrom")).toBe("gunicorn@%i.service");
  });
  it("computes paths from the table, so a deploy user or project named like an environment stays intact", () => {
    for (const config of [{ ...DEFAULT_CONFIG, deployUser: "dev" }, { ...DEFAULT_CONFIG, project: "prod" }, { ...DEFAULT_CONFIG, deployUser: "staging", project: "dev" }]) {
      const envs = environments(config);
      const t = gunicornTemplate(config, SAMPLE);
      const sock = gunicornSocket(config);
      for (const env of envs) {
        const instance = (text: string, key: string) => directive(text, key).replace(/%i/g, env.name);
        expect(instance(t, "WorkingDirectory")).toBe(env.dir);
        expect(instance(t, "EnvironmentFile")).toBe(env.envFile);
        expect(instance(t, "ExecStart").split(" ")[0]).toBe(`${env.venv}/bin/gunicorn`);
        expect(instance(sock, "ListenStream")).toBe(env.socket);
        expect(instance(t, "User")).toBe(env.user);
        expect(env.user).toBe(`${config.deployUser}-${env.name}`);
      }
      expect(directive(t, "WorkingDirectory")).toBe(`/home/${config.deployUser}/%i/${config.project}`);
    }
  });
  it("runs in the directory of manage.py inside the live release, for a project kept in a subdirectory", () => {
    expect(directive(gunicornTemplate(DEFAULT_CONFIG, { appDir: "src/app" }), "WorkingDirectory")).toBe("/home/my-awesome-project/%i/myproject/src/app");
  });
});

describe("nginx site", () => {
  it("listens on the environment's port, serves /static/ from the live release's link to its STATIC_ROOT and proxies the rest to the socket", () => {
    const site = nginxSite(staging, SAMPLE);
    expect(site).toMatch(/listen 7031;/);
    expect(site).toMatch(/location \/static\/ \{\s*alias \/home\/my-awesome-project\/staging\/myproject\/\.static\/;\s*\}/);
    expect(site).toContain("proxy_pass http://unix:/home/my-awesome-project/staging/myproject.sock;");
    expect(site).toMatch(/location \/media\/ \{\s*alias \/home\/my-awesome-project\/staging\/shared\/media\/;\s*add_header X-Content-Type-Options nosniff always;\s*add_header Content-Security-Policy "sandbox" always;\s*\}/);
    expect(site).toMatch(new RegExp(`client_max_body_size ${staging.maxUploadMiB}m;`));
    expect(site).not.toMatch(/7030|7032|\/dev\//);
  });
});

describe("nginx's X-Forwarded-Proto", () => {
  const prod = envs[2]!;
  it("is nginx's own scheme when no proxy is trusted: a client cannot claim HTTPS", () => {
    for (const site of [nginxSite(prod, SAMPLE), nginxSite(prod, SAMPLE, {}), nginxSite(prod, SAMPLE, { trustedProxies: [] })]) {
      expect(site).toContain("proxy_set_header X-Forwarded-Proto $scheme;");
      expect(site).not.toContain("include proxy_params");
      expect(site).not.toMatch(/^geo /m);
      // Nothing at the top level of nginx's http block but the server itself.
      expect(site.split("\n").slice(0, 2)).toEqual([`# prod: generated by django-deploy-testbed from the environment table`, "server {"]);
    }
  });
  it("is passed on from trusted proxies only, https or http and nothing else, under names of the site's own", () => {
    const site = nginxSite(prod, SAMPLE, { trustedProxies: ["10.0.0.0/8", "192.168.1.5"] });
    expect(site).toContain("geo $myproject_prod_trusted_proxy {\n    default 0;\n    10.0.0.0/8 1;\n    192.168.1.5 1;\n}");
    expect(site).toContain(`map "$myproject_prod_trusted_proxy:$http_x_forwarded_proto" $myproject_prod_forwarded_proto {\n    "~^1:(?<proto>https?)$" $proto;\n    default $scheme;\n}`);
    expect(site).toContain("proxy_set_header X-Forwarded-Proto $myproject_prod_forwarded_proto;");
    expect(() => environments({ trustedProxies: ["10.0.0.0/8; evil"] })).toThrow(/trusted proxy "10.0.0.0\/8; evil": not an IP address or CIDR/);
  });
});

describe("sudoers", () => {
  let rule: string;
  beforeEach(() => {
    rule = sudoersRule(DEFAULT_CONFIG, envs);
  });
  it("allows exactly the commands the release tool uses (a restart that keeps the socket, a first start) for each gunicorn instance", () => {
    const commands = rule.match(/\/usr\/bin\/systemctl [\w -]+? \S+?(?=,|\s*$)/gm) ?? [];
    expect(commands).toEqual(envs.flatMap((e) => [`/usr/bin/systemctl restart --job-mode ignore-dependencies ${e.unit}`, `/usr/bin/systemctl start ${e.unit}`]));
  });
  it("gives each environment's user its own unit's commands only; the shared user all of them", () => {
    for (const e of envs) {
      const alias = `GUNICORN_MYPROJECT_${e.name.toUpperCase()}`;
      expect(rule).toMatch(new RegExp(`^${e.user} ALL=\\(root\\) NOPASSWD: ${alias}$`, "m"));
      const line = rule.slice(rule.indexOf(`Cmnd_Alias ${alias} =`)).split(/\n(?!\s)/)[0]!;
      expect(line.match(/gunicorn@\w+/g)).toEqual([e.unit, e.unit]);
    }
    const shared = sudoersRule({ ...DEFAULT_CONFIG, isolation: "shared" }, environments({ isolation: "shared" }));
    expect(shared).toMatch(/^my-awesome-project ALL=\(root\) NOPASSWD: GUNICORN_MYPROJECT$/m);
    expect(shared.match(/gunicorn@\w+/g)).toHaveLength(6);
  });
  it("says what made it, and gives the shared user one alias of every command", () => {
    expect(rule.split("\n")[0]).toBe("# generated by django-deploy-testbed: each deploy user restarts its own app server, nothing else");
    const shared = sudoersRule({ ...DEFAULT_CONFIG, isolation: "shared" }, environments({ isolation: "shared" }).slice(0, 1));
    expect(shared).toBe(
      "# generated by django-deploy-testbed: each deploy user restarts its own app server, nothing else\n" +
        "Cmnd_Alias GUNICORN_MYPROJECT = /usr/bin/systemctl restart --job-mode ignore-dependencies gunicorn@dev, \\\n    /usr/bin/systemctl start gunicorn@dev\n" +
        "my-awesome-project ALL=(root) NOPASSWD: GUNICORN_MYPROJECT\n",
    );
    // One rule after the other, nothing between them.
    expect(sudoersRule(DEFAULT_CONFIG, envs.slice(1))).toBe(
      "# generated by django-deploy-testbed: each deploy user restarts its own app server, nothing else\n" +
        "Cmnd_Alias GUNICORN_MYPROJECT_STAGING = /usr/bin/systemctl restart --job-mode ignore-dependencies gunicorn@staging, \\\n    /usr/bin/systemctl start gunicorn@staging\n" +
        "my-awesome-project-staging ALL=(root) NOPASSWD: GUNICORN_MYPROJECT_STAGING\n" +
        "Cmnd_Alias GUNICORN_MYPROJECT_PROD = /usr/bin/systemctl restart --job-mode ignore-dependencies gunicorn@prod, \\\n    /usr/bin/systemctl start gunicorn@prod\n" +
        "my-awesome-project-prod ALL=(root) NOPASSWD: GUNICORN_MYPROJECT_PROD\n",
    );
    expect(sudoersRule(DEFAULT_CONFIG, envs.slice(2))).toBe(
      "# generated by django-deploy-testbed: each deploy user restarts its own app server, nothing else\n" +
        "Cmnd_Alias GUNICORN_MYPROJECT_PROD = /usr/bin/systemctl restart --job-mode ignore-dependencies gunicorn@prod, \\\n    /usr/bin/systemctl start gunicorn@prod\n" +
        "my-awesome-project-prod ALL=(root) NOPASSWD: GUNICORN_MYPROJECT_PROD\n",
    );
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
    const text = envFile(dev, { secretKey: "s3cret", dbPassword: "pw" }, "mydatabaseserver", ["127.0.0.1"], SAMPLE);
    expect(text).toContain('DJANGO_ENV="dev"\n');
    expect(text).toContain('DATABASE_NAME="myproject_dev"\n');
    expect(text).toContain('DATABASE_USER="myproject_dev"\n');
    expect(text).toContain('DATABASE_HOST="mydatabaseserver"\n');
    expect(text).not.toMatch(/staging|prod/);
  });
  it("says DEBUG outright: on in dev only", () => {
    const [d, s, p] = envs.map((e) => envFile(e, { secretKey: "k", dbPassword: "p" }, "db", ["h"], SAMPLE));
    expect([d, s, p].map((t) => t!.match(/^DJANGO_DEBUG="(\d)"$/m)?.[1])).toEqual(["1", "0", "0"]);
  });
});

describe("release commands", () => {
  const byName = (names: string[]): ReleaseStepDef[] => names.map((n) => releaseSteps().find((s) => s.step === n)!);
  const commands = (steps: ReadonlyArray<ReleaseStepDef>) => releaseCommandSteps(steps).map((c) => [c.step, ...c.django.map((d) => d.step)].join(" "));

  it("run the Django steps next to each other as one prepare, in their order", () => {
    expect(commands(releaseSteps())).toEqual(["venv", "prepare check collectstatic migrate", "switch", "verify"]);
    expect(releaseCommandSteps(releaseSteps())[1]!.title).toBe("manage.py check, collectstatic, migrate (one Django process)");
  });

  it("take their arguments from the table: pip's for venv, the migrations flag for check, nothing for switch", () => {
    const [venv, prepare, sw, verify] = releaseCommandSteps(releaseSteps());
    const opts = { pip: ["--no-index"], checkMigrations: true };
    expect(releaseCommandArgs(venv!, opts)).toEqual(["--no-index"]);
    expect(releaseCommandArgs(prepare!, opts)).toEqual(["check", "collectstatic", "migrate", "--migrations"]);
    expect(releaseCommandArgs(prepare!, { ...opts, checkMigrations: false })).toEqual(["check", "collectstatic", "migrate"]);
    expect(releaseCommandArgs(sw!, opts)).toEqual([]);
    expect([sw!.switches, verify!.phase, prepare!.phase]).toEqual([true, "verify", "deploy"]);
  });

  it("keep steps in the order given: a switch between Django steps splits them (what a fault does)", () => {
    const order = byName(["venv", "check", "collectstatic", "switch", "migrate", "verify"]);
    expect(commands(order)).toEqual(["venv", "prepare check collectstatic", "switch", "prepare migrate", "verify"]);
    expect(commands(order.filter((s) => s.step !== "collectstatic"))).toEqual(["venv", "prepare check", "switch", "prepare migrate", "verify"]);
  });
  it("always holds DATABASE_URL, DJANGO_SETTINGS_MODULE and the WSGI application, whatever the project reads", () => {
    const text = envFile(staging, { secretKey: "k", dbPassword: "p@ss word/" }, "db", ["h"], SAMPLE);
    expect(text).toContain('DATABASE_URL="postgres://myproject_staging:p%40ss%20word%2F@db:5432/myproject_staging"\n');
    expect(text).toContain('DJANGO_SETTINGS_MODULE="myproject.settings"\n');
    expect(text).toContain('RELEASE_WSGI="myproject.wsgi:application"\n');
  });
  it("maps the environment's values onto the project's own names and formats, per environment", () => {
    const project = {
      ...SAMPLE,
      settings: { dev: "shop.settings.dev", staging: "shop.settings.prod", prod: "shop.settings.prod" },
      env: { all: { SQL_HOST: "{db_host}", DEBUG: "{debug}", HOSTS: "{allowed_hosts: }", FLAG: "{debug:1|0}", LITERAL: "x{{y}}" }, byEnv: { prod: { SENTRY_ENV: "production-{env}" } } },
    };
    const [d, , p] = envs.map((e) => envFile(e, { secretKey: "k", dbPassword: "p" }, "db", ["a", "b"], project));
    expect(d).toContain('SQL_HOST="db"\nDEBUG="True"\nHOSTS="a b"\nFLAG="1"\nLITERAL="x{y}"\n');
    expect(d).toContain('DJANGO_SETTINGS_MODULE="shop.settings.dev"');
    expect(d).not.toContain("SENTRY_ENV");
    expect(p).toContain('DEBUG="False"\nHOSTS="a b"\nFLAG="0"');
    expect(p).toContain('SENTRY_ENV="production-prod"');
    expect(p).toContain('DJANGO_SETTINGS_MODULE="shop.settings.prod"');
  });
  it("names a template's unknown value, with the file and key", () => {
    const project = { ...SAMPLE, env: { all: { PASSWORD: "{db_pass}" }, byEnv: {} } };
    expect(() => envFile(dev, { secretKey: "k", dbPassword: "p" }, "db", ["h"], project)).toThrow(/deploy-testbed\.toml \[env\] PASSWORD: \{db_pass\} is not a value the recipe knows; use one of .*\{db_password\}/);
  });
  it("reads back exactly what it wrote, whatever the secrets hold (a later process adopts them from the server)", () => {
    const secrets = { secretKey: `a$b"c\\d\`e f'g`, dbPassword: "p$(id)" };
    const values = parseEnvFile(envFile(dev, secrets, "db", ["h"], SAMPLE));
    expect(values.DJANGO_SECRET_KEY).toBe(secrets.secretKey);
    expect(values.DATABASE_PASSWORD).toBe(secrets.dbPassword);
    expect(values.DJANGO_ENV).toBe("dev");
  });
});
