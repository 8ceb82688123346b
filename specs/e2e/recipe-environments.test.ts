import { createHash, randomBytes } from "node:crypto";
import { request } from "undici";
import { describe, expect } from "vitest";
import { ENV_NAMES, type EnvName } from "../../harness/domain/envs.ts";
import { fileInfo } from "../../harness/probes/file-info.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { expectChecklistPasses, expectMigrations, expectStaticBytes, readMarker, writeMarker } from "./checks.ts";
import { loadProject } from "../../harness/project/detect.ts";
import { provisionAndDeploy } from "../../harness/recipe/recipe.ts";
import { unitProperties, unitState, waitForUnitState } from "../../harness/probes/systemd.ts";
import { log, onTestbed, sampleProject, sharedTestbed, SPEC_TRAFFIC, withDiagnostics } from "./support.ts";
import { withDatabase } from "../../harness/probes/postgres.ts";
import { dbPassword, useSecrets, type EnvSecrets } from "../../harness/recipe/secrets.ts";
import { releaseLibraryPath } from "../../harness/release/tool.ts";
import { sh } from "../../harness/shell/quote.ts";
import { waitFor } from "../../harness/plumbing/deadline.ts";
import { serverState, stateDiff } from "../../harness/probes/server-state.ts";
import { gunicornCommands } from "../../harness/release/tool.ts";
import { HBA_BEGIN, HBA_END } from "../../harness/recipe/pg-hba.ts";
import pg from "pg";
import type { StartedTestbed } from "../../harness/testbed/testbed.ts";
import { restartComparison } from "../../harness/bench/deploy-safety.ts";
import { connectHost } from "../../harness/docker/engine-address.ts";

// What a Django-style secret key and a generated password really contain: every character a shell
// treats specially, quotes, a backslash, spaces and '='. Each environment gets its own, and every
// test below runs with them: the page from each database, the clients, the sudo and target tests.
const hostile = (env: EnvName): EnvSecrets => ({
  secretKey: `k$HOME(1)&2;3'4"5#6\\7\`8 9=0 ${env} !*?[x]{y}|<z>~^%`,
  dbPassword: `p$(id)&;'"#\\\` =${env}`,
});
const digest = (s: string) => createHash("sha256").update(s).digest("hex");
/** The deployed project, as the harness reads it (its health path, STATIC_URL, settings file...). */
const project = () => loadProject(sampleProject());
/** The status of the project's health path through nginx: below 500 is serving, 502 is no gunicorn. */
const health = async (tb: StartedTestbed, name: EnvName) => (await httpGet(tb.url(name, project().health))).status;

// One recipe-deployed testbed for all of this file: the recipe runs again on the deployed snapshot
// with these secrets (renewing every environment file and password); then what only observes it,
// what stops and restarts its units (and puts them back), and last the re-run that must change nothing.
const shared = sharedTestbed((tb) => {
  useSecrets(tb, Object.fromEntries(ENV_NAMES.map((e) => [e, hostile(e)])) as Record<EnvName, EnvSecrets>);
  return provisionAndDeploy(tb, { projectDir: sampleProject(), log });
}, "deployed");

describe.each(ENV_NAMES)("environment %s after the recipe", (name) => {
  // The checklist holds what two tests here asserted before it did: gunicorn active with its workers
  // on its unix socket (owned by the deploy user and www-data), nginx on the environment's port, and
  // the live release's Django serving from the environment's own database.
  onTestbed(shared, "passes every check of npm run verify's checklist", ({ tb }) => expectChecklistPasses(tb, name));

  // Also with gunicorn stopped: in the gunicorn.target test below (one stop for all three).
  onTestbed(shared, "serves /static/ byte for byte from disk", ({ tb }) => expectStaticBytes(tb, name, sampleProject(), project()));

  onTestbed(shared, "has every migration of the fixture recorded in its own database", ({ tb }) => expectMigrations(tb, name, sampleProject(), project()));

  onTestbed(shared, "keeps its secrets in an environment file only the deploy user can read, outside the code", async ({ tb }) => {
    const env = tb.env(name);
    const info = await fileInfo(tb.app, env.envFile);
    expect(info).toMatchObject({ exists: true, mode: "600", owner: env.user, group: env.user });
    expect(env.envFile.startsWith(`${env.dir}/`)).toBe(false);
    const asNginx = await tb.app.exec.run(`cat ${env.envFile}`, { as: "www-data", allowFailure: true });
    expect(asNginx.exitCode).not.toBe(0);
  });

  onTestbed(shared, "gunicorn (systemd's EnvironmentFile) and manage.py (the release tool) read its secret key byte for byte, special characters and all", async ({ tb }) => {
    const env = tb.env(name);
    const expected = digest(hostile(name).secretKey);
    // What systemd gave gunicorn, from its main process's environment; digested on the server, never printed.
    const pid = (await tb.app.exec.run(sh`systemctl show -p MainPID --value ${env.unit}`)).stdout.trim();
    const fromSystemd = await tb.app.exec.run(
      sh`tr '\\0' '\\n' < /proc/${pid}/environ | sed -n 's/^DJANGO_SECRET_KEY=//p' | tr -d '\\n' | sha256sum | cut -d' ' -f1`,
    );
    expect(fromSystemd.stdout.trim()).toBe(expected);
    // What the release tool hands to every manage.py it runs (its library reads the file).
    const code = `import hashlib, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import release_environment as t
print(hashlib.sha256(t.read_env_file(sys.argv[2])["DJANGO_SECRET_KEY"].encode()).hexdigest())`;
    const fromTool = await tb.app.exec.run(sh`python3 -c ${code} ${releaseLibraryPath(tb.config)} ${env.envFile}`);
    expect(fromTool.stdout.trim()).toBe(expected);
  });

  onTestbed(shared, name === "dev" ? "shows Django's debug page for an unknown URL (DEBUG on in dev only)" : "answers an unknown URL with the plain 404, never the debug page", async ({ tb }) => {
    const r = await httpGet(tb.url(name, "/no-such-page"));
    expect(r.status).toBe(404);
    // The debug page lists the URL patterns: in staging or production that tells anyone the site's map.
    expect(r.text.includes("Using the URLconf defined in"), r.text.slice(0, 200)).toBe(name === "dev");
  });
});

describe("gunicorn.target and its instances", () => {
  onTestbed(shared, "stop gunicorn.target stops all three (nginx answers 502, and still serves /static/ from disk), start brings them back", async ({ tb }) => {
    await tb.app.exec.run("systemctl stop gunicorn.target");
    try {
    for (const name of ENV_NAMES) {
      const unit = tb.env(name).unit;
      // `systemctl stop` returns once the stop jobs ran; a unit still up then is not part of the target.
      await waitForUnitState(tb.app, unit, "inactive", 5_000).catch(async (err: Error) => {
        const loaded = [await unitProperties(tb.app, `${unit}.service`, ["PartOf", "Requires"]), await unitProperties(tb.app, `${unit}.socket`, ["PartOf"])];
        throw new Error(`${unit} outlived "systemctl stop gunicorn.target" (${err.message}). As loaded:\n  ${loaded.join("\n  ")}\nAn instance and its socket stop with the target only if both units say PartOf=gunicorn.target.`);
      });
      expect(await health(tb, name), name).toBe(502);
      // nginx, not Django, serves /static/: byte for byte with no gunicorn running.
      await expectStaticBytes(tb, name, sampleProject(), project());
    }
    } finally {
      await tb.app.exec.run("systemctl start gunicorn.target");
    }
    for (const name of ENV_NAMES) {
      expect((await unitState(tb.app, tb.env(name).unit)).activeState, name).toBe("active");
      expect(await health(tb, name), name).toBeLessThan(500);
    }
  });

  onTestbed(shared, "disable gunicorn@staging takes staging out of the target while dev and prod stay", async ({ tb }) => {
    await tb.app.exec.run("systemctl disable gunicorn@staging && systemctl stop gunicorn.target");
    for (const name of ENV_NAMES) await waitForUnitState(tb.app, tb.env(name).unit, "inactive");
    await tb.app.exec.run("systemctl start gunicorn.target");
    try {
      expect((await unitState(tb.app, "gunicorn@staging")).activeState).toBe("inactive");
      expect((await unitState(tb.app, "gunicorn@dev")).activeState).toBe("active");
      expect((await unitState(tb.app, "gunicorn@prod")).activeState).toBe("active");
      expect(await health(tb, "staging")).toBe(502);
      expect(await health(tb, "prod")).toBeLessThan(500);
    } finally {
      await tb.app.exec.run("systemctl enable gunicorn@staging && systemctl start gunicorn@staging");
    }
    expect(await health(tb, "staging")).toBeLessThan(500);
  });

  onTestbed(shared, "restarting gunicorn@dev leaves staging's and prod's main PIDs alone", async ({ tb }) => {
    const before = await Promise.all(ENV_NAMES.map((n) => unitState(tb.app, tb.env(n).unit)));
    await tb.app.exec.run("systemctl restart gunicorn@dev");
    const after = await Promise.all(ENV_NAMES.map((n) => unitState(tb.app, tb.env(n).unit)));
    expect(after[0]!.mainPid).not.toBe(before[0]!.mainPid);
    expect(after[0]!.activeState).toBe("active");
    expect(after.slice(1).map((s) => s.mainPid)).toEqual(before.slice(1).map((s) => s.mainPid));
  });

  onTestbed(shared, "eight restarts in a row, as quick deploys make them, are never refused by systemd's start limit", async ({ tb }) => {
    const unit = tb.env("dev").unit;
    // As the deploy user, with the command sudoers allows: what the release tool's switch runs.
    const restart = sh`sudo -n ${gunicornCommands(unit).restart}`;
    for (let i = 1; i <= 8; i++) {
      const r = await tb.app.exec.run(restart, { as: tb.env("dev").user, allowFailure: true });
      expect(r.exitCode, `restart ${i} of 8 was refused: ${r.output.trim()}`).toBe(0);
    }
    expect((await unitState(tb.app, unit)).activeState).toBe("active");
    expect(await health(tb, "dev")).toBeLessThan(500);
  });
});

describe("restarts under traffic", () => {
  onTestbed(shared, "the seed's unit (gunicorn binding its own socket) drops requests on restart; ours, under the same traffic, drops none", async ({ tb }) => {
    // The negative control for every "0 failed requests" in the deploy specs: the same probe, at the
    // same rate, does see the seed's restart.
    const r = await restartComparison(tb, "staging", { ...SPEC_TRAFFIC, answers: 10 });
    expect(r.seedRestart.failed, JSON.stringify(r.seedRestart)).toBeGreaterThan(0);
    expect(r.seedRestart.byStatus["502"]).toBe(r.seedRestart.failed);
    expect(r.socketActivatedRestart.failed, JSON.stringify(r.socketActivatedRestart)).toBe(0);
  });
});

describe("uploads, as an attacker would send them", () => {
  onTestbed(shared, "a .html and a .svg among the uploads come back never sniffed and sandboxed, so their script cannot run as the site", async ({ tb }) => {
    const prod = tb.env("prod");
    const script = "<script>document.title = document.cookie</script>";
    // Saved where any upload view saves (MEDIA_ROOT, the environment's shared media), as the app's user.
    const files = [["evil.html", `<!doctype html><html><body>${script}</body></html>`], ["evil.svg", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)">${script}</svg>`]] as const;
    const dir = `${prod.media}/testbed-attack-${Date.now()}`;
    await tb.app.exec.run(sh`install -d ${dir}`, { as: prod.user });
    try {
      for (const [name, body] of files) {
        await tb.app.exec.run(sh`cat > ${`${dir}/${name}`}`, { as: prod.user, stdin: body });
        const r = await httpGet(tb.url("prod", `${project().mediaUrl}${dir.slice(prod.media.length + 1)}/${name}`));
        expect(r.status, name).toBe(200);
        expect(r.text).toContain(script);
        expect(r.headers["x-content-type-options"], name).toBe("nosniff");
        expect(r.headers["content-security-policy"], name).toBe("sandbox");
      }
    } finally {
      await tb.app.exec.run(sh`rm -rf ${dir}`);
    }
  });

  onTestbed(shared, "a 5 MB request body reaches the release, and one over the environment table's limit is refused by nginx", async ({ tb }) => {
    const prod = tb.env("prod");
    const post = async (body: Buffer) => {
      const marker = `testbed-${randomBytes(6).toString("hex")}`;
      const sep = project().health.includes("?") ? "&" : "?";
      const r = await request(tb.url("prod", `${project().health}${sep}${marker}`), { method: "POST", body, headers: { "content-type": "application/octet-stream" } });
      await r.body.dump();
      return { status: r.statusCode, marker };
    };
    // Whatever the project answers a POST there (403 for CSRF, 405...), the release's gunicorn logs it:
    // nginx let the body through. (A release that answers before reading the body may even make
    // nginx answer 502: the access log, not the status, says where the request got to.)
    const ok = await post(randomBytes(5 * 1024 * 1024));
    expect(ok.status, "a 5 MB body").not.toBe(413);
    await waitFor(`prod's gunicorn never logged the 5 MB POST (${ok.marker})`, async () => ((await tb.app.exec.run(sh`journalctl -u ${prod.unit} --no-pager -o cat | grep -c ${ok.marker}`, { allowFailure: true })).stdout.trim() !== "0" ? true : undefined), { timeoutMs: 5_000 });
    const tooBig = await post(Buffer.alloc((prod.maxUploadMiB + 1) * 1024 * 1024));
    expect(tooBig.status).toBe(413);
    expect((await tb.app.exec.run(sh`journalctl -u ${prod.unit} --no-pager -o cat | grep -c ${tooBig.marker}`, { allowFailure: true })).stdout.trim(), "the refused body reached gunicorn").toBe("0");
  });
});

describe("database isolation", () => {
  onTestbed(shared, "a role opens its own database from the app server, and not another environment's", async ({ tb }) => {
    const dev = tb.env("dev");
    const staging = tb.env("staging");
    const devCreds = { role: dev.role, password: dbPassword(tb, "dev") };
    expect(await withDatabase(tb, dev, devCreds, async (c) => (await c.query("SELECT current_database() AS db")).rows[0].db)).toBe(dev.database);
    await expect(withDatabase(tb, staging, devCreds, async () => "opened")).rejects.toThrow(/pg_hba\.conf|permission denied/);
  });

  onTestbed(shared, "a role cannot connect from anywhere but the app server", async ({ tb }) => {
    const dev = tb.env("dev");
    const client = new pg.Client({
      host: connectHost(),
      port: tb.db.mappedPort(5432),
      user: dev.role,
      password: dbPassword(tb, "dev"),
      database: dev.database,
    });
    const refused = await client.connect().then(() => undefined, (err: Error) => err);
    await client.end().catch(() => undefined);
    if (!refused) {
      const block = await tb.db.exec.run(`sed -n '/^${HBA_BEGIN}/,/^${HBA_END}/p' "$(runuser -u postgres -- psql -tAc 'SHOW hba_file')"`);
      expect.fail(`${dev.role} connected from this host, which is not the app server: pg_hba.conf admits it:\n${block.stdout.trim()}`);
    }
    expect(refused.message).toMatch(/no pg_hba\.conf entry/);
  });
});

describe("each environment's user's sudo", () => {
  onTestbed(shared, "sudo -l allows exactly its own gunicorn's restart and start, without a password, and nothing else", async ({ tb }) => {
    const command = /\/usr\/bin\/systemctl [\w -]+ gunicorn@\w+/g;
    for (const env of tb.envs) {
      const listing = (await tb.app.exec.run(sh`sudo -l -U ${env.user}`)).stdout;
      const allowed = listing.slice(listing.indexOf("may run the following commands"));
      const commands = [...allowed.matchAll(command)].map((m) => m[0]).sort();
      const said = `sudo -l -U ${env.user} says:\n${allowed}`;
      expect(commands, said).toEqual([`/usr/bin/systemctl restart --job-mode ignore-dependencies ${env.unit}`, `/usr/bin/systemctl start ${env.unit}`].sort());
      expect(allowed, said).toMatch(/\(root\) NOPASSWD:/);
      expect(allowed, said).not.toMatch(/\(ALL(\s*:\s*ALL)?\)\s*ALL|NOPASSWD:\s*ALL\b/);
    }
    const dev = tb.env("dev").user;
    const ok = await tb.app.exec.run(`sudo -n systemctl restart --job-mode ignore-dependencies gunicorn@dev`, { as: dev, allowFailure: true });
    expect(ok.exitCode, ok.output).toBe(0);
    // Another environment's restart is refused; so is a plain restart (on systemd ≥ 254 it would
    // restart the socket and drop requests), and anything else.
    for (const cmd of ["systemctl restart --job-mode ignore-dependencies gunicorn@prod", "systemctl start gunicorn@prod", "systemctl restart gunicorn@dev", "systemctl restart nginx", "systemctl restart gunicorn@dev nginx", "cat /etc/shadow", "systemctl disable gunicorn@dev", "systemctl stop gunicorn@dev", "systemctl restart gunicorn@dev.socket"]) {
      const denied = await tb.app.exec.run(`sudo -n ${cmd}`, { as: dev, allowFailure: true });
      expect(denied.exitCode, cmd).not.toBe(0);
    }
  });
});

describe("diagnostics on failure", () => {
  onTestbed(shared, "a failing spec's error carries the unit's journal and nginx's error lines", async ({ tb }) => {
    const dev = tb.env("dev");
    await tb.app.exec.run(`systemctl stop ${dev.unit}`);
    try {
      // The stop reaches the socket after the service: until then nginx's connection is accepted and
      // then reset; once the socket is closed, nginx's error is the connect() that this checks for.
      await waitForUnitState(tb.app, `${dev.unit}.socket`, "inactive");
      expect((await httpGet(tb.url("dev"))).status).toBe(502);
      const err = (await withDiagnostics(tb, new Error("made to fail on purpose"))) as Error;
      expect(err.message).toMatch(/^made to fail on purpose\n/);
      expect(err.message).toContain(`--- journalctl -u ${dev.unit} (app server)`);
      expect(err.message).toMatch(/Stopped gunicorn@dev\.service/);
      expect(err.message).toContain("--- /var/log/nginx/error.log (app server)");
      expect(err.message).toContain(`connect() to unix:${dev.socket} failed`);
      expect(err.message).toContain("--- systemctl --failed (database server)");
    } finally {
      await tb.app.exec.run(`systemctl start ${dev.unit}`);
    }
  });
});

describe("running the recipe again", () => {
  onTestbed(shared, "changes nothing on either server and loses no data", async ({ tb, data: report }) => {
    expect([...report.restarted].sort()).toEqual(["dev", "prod", "staging"]);
    const marker = `kept across re-runs ${Date.now()}`;
    for (const name of ENV_NAMES) await writeMarker(tb, name, marker);
    // The whole state: the deploy user's tree (releases, venvs, uploads, environment files), the
    // units, sites, sudoers and the release tool; pg_hba and each database's schema; unit states and PIDs.
    const hba = (await tb.db.exec.run("runuser -u postgres -- psql -tAc 'SHOW hba_file'")).stdout.trim();
    const app = () => serverState(tb.app.exec, [tb.envs[0]!.home, "/etc/systemd/system", "/etc/nginx", "/etc/sudoers.d", "/etc/ssh", "/usr/local/bin", "/usr/local/lib"], ["gunicorn*", "nginx.service", "ssh.service"]);
    const db = async () => {
      const schemas = await Promise.all(tb.envs.map((e) => tb.db.exec.run(sh`runuser -u postgres -- pg_dump --schema-only ${e.database} | grep -v -E '^(--|.restrict |.unrestrict )'`).then((r) => r.stdout)));
      return `${await serverState(tb.db.exec, [hba], ["postgresql*"])}\n${schemas.join("\n")}`;
    };
    const before = { app: await app(), db: await db() };

    const again = await provisionAndDeploy(tb, { projectDir: sampleProject(), log });

    expect(again.applied).toEqual({ dev: [], staging: [], prod: [] });
    expect(again.restarted).toEqual([]);
    const after = { app: await app(), db: await db() };
    expect(stateDiff(before.app, after.app), "the app server changed").toBe("");
    expect(stateDiff(before.db, after.db), "the database server changed").toBe("");
    for (const name of ENV_NAMES) expect(await readMarker(tb, name, marker), name).toHaveLength(1);
  });
});
