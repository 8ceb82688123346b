import { NodeSSH } from "node-ssh";
import { describe, expect } from "vitest";
import { appendToSettings } from "../../harness/project/changes.ts";
import { releaseToolName } from "../../harness/release/tool.ts";
import { gunicornCommands } from "../../harness/release/tool.ts";
import { DB_HOST } from "../../harness/recipe/hosts.ts";
import { sh } from "../../harness/shell/quote.ts";
import { waitFor } from "../../harness/plumbing/deadline.ts";
import type { StartedTestbed } from "../../harness/testbed/testbed.ts";
import type { KeyPair } from "../../harness/testbed/keys.ts";
import { jobLogs, onTestbed, pipelineTestbed } from "./support.ts";

// A compromised dev branch and a leaked dev deploy key, as an attacker would use them: each attempt
// on staging or prod must be refused. Per-environment isolation is the default (a Unix user per
// environment, a deploy key per environment forced to the release tool).
const shared = pipelineTestbed();

/**
 * Python appended to the dev branch's settings: it runs in every process that loads them, gunicorn's
 * workers included, as dev's user, and tries what code on a dev branch would try against prod. It
 * writes what happened to the dev user's home (its environment's directory), one file per process kind.
 */
function attackCode(tb: StartedTestbed): string {
  const prod = tb.env("prod");
  const restart = gunicornCommands(prod.unit).restart;
  return `
def _testbed_attack():
    import json, os, pwd, subprocess, sys
    from urllib.parse import urlparse
    out = {"user": pwd.getpwuid(os.getuid()).pw_name, "argv0": sys.argv[0]}
    def attempt(name, fn):
        try:
            out[name] = "succeeded: " + str(fn())[:200]
        except BaseException as e:
            out[name] = "refused: " + type(e).__name__ + ": " + str(e)[:300]
    attempt("read prod's environment file", lambda: open(${JSON.stringify(prod.envFile)}).read())
    attempt("list prod's releases", lambda: os.listdir(${JSON.stringify(prod.releases)}))
    attempt("write into prod's releases", lambda: open(${JSON.stringify(`${prod.releases}/testbed-attack`)}, "w").write("x"))
    def restart():
        r = subprocess.run(["sudo", "-n", *${JSON.stringify(restart)}], capture_output=True, text=True)
        if r.returncode:
            raise PermissionError(r.stderr.strip())
        return r.stdout
    attempt("restart gunicorn@prod", restart)
    def database():
        # What dev's own settings give it (DATABASE_URL), pointed at prod's database and role.
        url = urlparse(os.environ["DATABASE_URL"])
        try:
            import psycopg as driver
        except ImportError:
            import psycopg2 as driver
        tried = []
        for user in (url.username, ${JSON.stringify(prod.role)}):
            try:
                driver.connect(host=${JSON.stringify(DB_HOST)}, port=url.port or 5432, dbname=${JSON.stringify(prod.database)}, user=user, password=url.password, connect_timeout=5).close()
                return "connected as " + user
            except driver.OperationalError as e:
                tried.append(user + ": " + str(e).strip().splitlines()[0])
        raise PermissionError("; ".join(tried))
    attempt("connect to prod's database", database)
    kind = "gunicorn" if "gunicorn" in out["argv0"] else "manage"
    path = os.path.join(os.path.expanduser("~"), "testbed-attack-" + kind + ".json")
    with open(path, "w") as f:
        json.dump(out, f)

try:
    _testbed_attack()
except BaseException:
    pass
`;
}

const ATTEMPTS = ["read prod's environment file", "list prod's releases", "write into prod's releases", "restart gunicorn@prod", "connect to prod's database"];

describe("code on a dev branch, running as dev's gunicorn", () => {
  onTestbed(shared, "cannot read prod's environment file or releases, write into them, restart gunicorn@prod, or connect to prod's database", async ({ tb, data }) => {
    const dev = tb.env("dev");
    const branch = "feature/attack";
    await data.repo.branch(branch, tb.config.defaultBranch);
    await data.repo.commit(branch, "Settings that attack prod", appendToSettings(data.repo.dir, data.project, attackCode(tb), "dev"));
    const { result } = await data.deploy({ branch });
    expect(result.status, jobLogs(result)).toBe("success");
    // gunicorn's workers load the settings as they boot: its file appears once one has.
    const path = `${dev.root}/testbed-attack-gunicorn.json`;
    const text = await waitFor(`dev's gunicorn never ran the attack (no ${path})`, async () => {
      const r = await tb.app.exec.run(sh`cat ${path}`, { allowFailure: true });
      return r.exitCode === 0 && r.stdout.trim() ? r.stdout : undefined;
    }, { timeoutMs: 15_000 });
    const attack = JSON.parse(text) as Record<string, string>;
    expect(attack.user, "the attack ran as dev's own user").toBe(dev.user);
    expect(attack.argv0).toContain("gunicorn");
    for (const what of ATTEMPTS) expect(attack[what], `${what}: ${attack[what]}`).toMatch(/^refused: /);
    expect(attack["connect to prod's database"]).toMatch(/pg_hba\.conf|password authentication failed/);
    expect((await tb.app.exec.run(sh`test -e ${`${tb.env("prod").releases}/testbed-attack`}`, { allowFailure: true })).exitCode).not.toBe(0);
  });
});

/** A session with an environment's deploy key, as whoever holds the key would open one. */
async function withKey<T>(tb: StartedTestbed, user: string, key: KeyPair, fn: (ssh: NodeSSH) => Promise<T>): Promise<T> {
  const ssh = await new NodeSSH().connect(tb.app.sshConfig(user, key.private as never));
  try {
    return await fn(ssh);
  } finally {
    ssh.dispose();
  }
}

describe("the dev deploy key, in an attacker's hands", () => {
  onTestbed(shared, "gets no shell, no port forward, nothing of prod, no `--to` with ; $() or ../, and no rsync outside dev's releases", async ({ tb, data }) => {
    const dev = tb.env("dev");
    const prod = tb.env("prod");
    const tool = releaseToolName(tb.config);
    const marker = "/tmp/ddt-key-injection";
    await withKey(tb, dev.user, data.keyFor("dev"), async (ssh) => {
      const refused = async (command: string, why: RegExp) => {
        const r = await ssh.execCommand(command);
        expect(r.code, `${command}: ${r.stdout}${r.stderr}`).toBe(126);
        expect(r.stderr, command).toMatch(why);
      };
      await refused("bash", /this key runs only/);
      await refused("bash -c id", /this key runs only/);
      await refused("", /no interactive shell/);
      await refused(`${tool} prod list`, /this key deploys dev, not 'prod'/);
      await refused(`${tool} prod rollback`, /this key deploys dev, not 'prod'/);
      for (const to of [`'x; touch ${marker}'`, `'$(touch ${marker})'`, "../prod", "'`touch /tmp/x`'"]) {
        await refused(`${tool} dev rollback --to ${to}`, /rollback: .*expected --to ID/);
      }
      await refused(`${tool} dev venv ${dev.releases}/x --target /tmp/evil`, /pip option '--target' is not allowed/);
      await refused(`rsync --server -rlce.iLsfxCIvu . ${prod.releases}/x/`, /outside the releases of dev/);
      await refused(`rsync --server -rlce.iLsfxCIvu . ${dev.root}/`, /outside the releases of dev/);
      await refused(`rsync --server --sender -rlce.iLsfxCIvu . ${dev.releases}/`, /only uploads/);
      // The live release is never written to, even inside dev's releases.
      const live = (await tb.app.exec.run(sh`basename "$(readlink -f ${dev.dir})"`)).stdout.trim();
      await refused(`rsync --server -rlce.iLsfxCIvu . ${dev.releases}/${live}/`, /is live or ready/);
      // What the key is for still works: a read-only step of its own environment.
      const ok = await ssh.execCommand(`${tool} dev current`);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout.trim()).toBe(live);
      // restrict: no port forwarding (here, to prod's socket-fronting nginx on the server itself).
      const forward = await ssh.forwardOut("127.0.0.1", 0, "127.0.0.1", prod.port).then(() => "opened", (e: Error) => e.message);
      expect(forward).toMatch(/administratively prohibited|open failed/i);
    });
    expect((await tb.app.exec.run(sh`test -e ${marker}`, { allowFailure: true })).exitCode, "an injected command ran").not.toBe(0);
  });

  onTestbed(shared, "cannot log in as prod's user at all", async ({ tb, data }) => {
    const error = await withKey(tb, tb.env("prod").user, data.keyFor("dev"), async () => "logged in").catch((e: Error) => e.message);
    expect(error).toMatch(/All configured authentication methods failed/);
  });
});
