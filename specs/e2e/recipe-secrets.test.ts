import { createHash } from "node:crypto";
import { describe, expect } from "vitest";
import { ENV_NAMES, type EnvName } from "../../harness/envs.ts";
import { FIXTURE_DIR } from "../../harness/fixture.ts";
import { httpGet } from "../../harness/probes/http.ts";
import { provisionAndDeploy } from "../../harness/recipe/recipe.ts";
import { releaseToolPath } from "../../harness/recipe/release.ts";
import { useSecrets, type EnvSecrets } from "../../harness/recipe/secrets.ts";
import { sh } from "../../harness/quote.ts";
import { appDatabase } from "./checks.ts";
import { log, onTestbed, sharedTestbed } from "./support.ts";

// What a Django-style secret key and a generated password really contain: every character a shell
// treats specially, quotes, a backslash, spaces and '='. Each environment gets its own.
const hostile = (env: EnvName): EnvSecrets => ({
  secretKey: `k$HOME(1)&2;3'4"5#6\\7\`8 9=0 ${env} !*?[x]{y}|<z>~^%`,
  dbPassword: `p$(id)&;'"#\\\` =${env}`,
});
const digest = (s: string) => createHash("sha256").update(s).digest("hex");

const shared = sharedTestbed(async (tb) => {
  useSecrets(tb, Object.fromEntries(ENV_NAMES.map((e) => [e, hostile(e)])) as Record<EnvName, EnvSecrets>);
  return provisionAndDeploy(tb, { projectDir: FIXTURE_DIR, envs: ["prod"], log });
}, "deployed");

describe("secrets with every special character", () => {
  onTestbed(shared, "deploy, and the database password really connects (the app, migrate, and a client)", async ({ tb }) => {
    const page = await httpGet(tb.url("prod"));
    expect(page.status, page.text.slice(0, 300)).toBe(200);
    expect(await appDatabase(tb, "prod", async (c) => (await c.query("SELECT current_user AS u")).rows[0].u)).toBe(tb.env("prod").role);
  });

  onTestbed(shared, "gunicorn (systemd's EnvironmentFile) and manage.py (the release tool) read the same secret key, byte for byte", async ({ tb }) => {
    const env = tb.env("prod");
    const expected = digest(hostile("prod").secretKey);
    // What systemd gave gunicorn, from its main process's environment; digested on the server, never printed.
    const pid = (await tb.app.exec.run(sh`systemctl show -p MainPID --value ${env.unit}`)).stdout.trim();
    const fromSystemd = await tb.app.exec.run(
      sh`tr '\\0' '\\n' < /proc/${pid}/environ | sed -n 's/^DJANGO_SECRET_KEY=//p' | tr -d '\\n' | sha256sum | cut -d' ' -f1`,
    );
    expect(fromSystemd.stdout.trim()).toBe(expected);
    // What the release tool hands to every manage.py it runs.
    const code = `import hashlib, importlib.machinery, importlib.util, sys
spec = importlib.util.spec_from_loader("t", importlib.machinery.SourceFileLoader("t", sys.argv[1]))
t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)
print(hashlib.sha256(t.read_env_file(sys.argv[2])["DJANGO_SECRET_KEY"].encode()).hexdigest())`;
    const fromTool = await tb.app.exec.run(sh`python3 -c ${code} ${releaseToolPath(tb.config)} ${env.envFile}`);
    expect(fromTool.stdout.trim()).toBe(expected);
  });
});
