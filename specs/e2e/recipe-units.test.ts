import { describe, expect } from "vitest";
import { ENV_NAMES } from "../../harness/envs.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { withDatabase } from "../../harness/probes/postgres.ts";
import { dbPassword } from "../../harness/recipe/secrets.ts";
import { unitState, waitForUnitState } from "../../harness/probes/systemd.ts";
import { sudoersRule } from "../../harness/recipe/sudoers.ts";
import pg from "pg";
import { restartComparison } from "../../harness/bench/deploy-safety.ts";
import { onTestbed, recipeTestbed, SPEC_TRAFFIC, withDiagnostics } from "./support.ts";
import { connectHost } from "../../harness/docker/host.ts";

const shared = recipeTestbed();

describe("gunicorn.target and its instances", () => {
  onTestbed(shared, "stop gunicorn.target stops all three (nginx answers 502), start brings them back", async ({ tb }) => {
    await tb.app.exec.run("systemctl stop gunicorn.target");
    for (const name of ENV_NAMES) {
      await waitForUnitState(tb.app, tb.env(name).unit, "inactive");
      expect((await httpGet(tb.url(name))).status, name).toBe(502);
    }
    await tb.app.exec.run("systemctl start gunicorn.target");
    for (const name of ENV_NAMES) {
      expect((await unitState(tb.app, tb.env(name).unit)).activeState, name).toBe("active");
      expect((await httpGet(tb.url(name))).status, name).toBe(200);
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
      expect((await httpGet(tb.url("staging"))).status).toBe(502);
      expect((await httpGet(tb.url("prod"))).status).toBe(200);
    } finally {
      await tb.app.exec.run("systemctl enable gunicorn@staging && systemctl start gunicorn@staging");
    }
    expect((await httpGet(tb.url("staging"))).status).toBe(200);
  });

  onTestbed(shared, "restarting gunicorn@dev leaves staging's and prod's main PIDs alone", async ({ tb }) => {
    const before = await Promise.all(ENV_NAMES.map((n) => unitState(tb.app, tb.env(n).unit)));
    await tb.app.exec.run("systemctl restart gunicorn@dev");
    const after = await Promise.all(ENV_NAMES.map((n) => unitState(tb.app, tb.env(n).unit)));
    expect(after[0]!.mainPid).not.toBe(before[0]!.mainPid);
    expect(after[0]!.activeState).toBe("active");
    expect(after.slice(1).map((s) => s.mainPid)).toEqual(before.slice(1).map((s) => s.mainPid));
  });
});

describe("restarts under traffic", () => {
  onTestbed(shared, "the seed's unit (gunicorn binding its own socket) drops requests on restart; ours, under the same traffic, drops none", async ({ tb }) => {
    // The negative control for every "0 failed requests" in the deploy specs: the same probe, at the
    // same rate, does see the seed's restart.
    const r = await restartComparison(tb, "staging", { ...SPEC_TRAFFIC, answers: 40 });
    expect(r.seedRestart.failed, JSON.stringify(r.seedRestart)).toBeGreaterThan(0);
    expect(r.seedRestart.byStatus["502"]).toBe(r.seedRestart.failed);
    expect(r.socketActivatedRestart.failed, JSON.stringify(r.socketActivatedRestart)).toBe(0);
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
    await expect(client.connect()).rejects.toThrow(/no pg_hba\.conf entry/);
    await client.end().catch(() => undefined);
  });
});

describe("the deploy user's sudo", () => {
  onTestbed(shared, "sudo -l allows exactly the gunicorn commands, without a password, and nothing else", async ({ tb }) => {
    const user = tb.config.deployUser;
    const listing = (await tb.app.exec.run(`sudo -l -U ${user}`)).stdout;
    const allowed = listing.slice(listing.indexOf("may run the following commands"));
    const commands = [...allowed.matchAll(/\/usr\/bin\/systemctl \w+ gunicorn@\w+/g)].map((m) => m[0]).sort();
    const expected = [...sudoersRule(tb.config, tb.envs).matchAll(/\/usr\/bin\/systemctl \w+ gunicorn@\w+/g)].map((m) => m[0]).sort();
    expect(commands).toEqual(expected);
    expect(commands).toEqual(tb.envs.map((e) => `/usr/bin/systemctl restart ${e.unit}`).sort());
    expect(allowed).toMatch(/\(root\) NOPASSWD:/);
    expect(allowed).not.toMatch(/\(ALL(\s*:\s*ALL)?\)\s*ALL/);

    const ok = await tb.app.exec.run(`sudo -n systemctl restart gunicorn@dev`, { as: user, allowFailure: true });
    expect(ok.exitCode, ok.output).toBe(0);
    for (const cmd of ["systemctl restart nginx", "systemctl restart gunicorn@dev nginx", "cat /etc/shadow", "systemctl disable gunicorn@dev", "systemctl stop gunicorn@dev", "systemctl restart gunicorn@dev.socket"]) {
      const denied = await tb.app.exec.run(`sudo -n ${cmd}`, { as: user, allowFailure: true });
      expect(denied.exitCode, cmd).not.toBe(0);
    }
  });
});

describe("diagnostics on failure", () => {
  onTestbed(shared, "a failing spec's error carries the unit's journal and nginx's error lines", async ({ tb }) => {
    const dev = tb.env("dev");
    await tb.app.exec.run(`systemctl stop ${dev.unit}`);
    try {
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
