import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PYTHON, ToolScratch } from "./scratch.ts";

// The deploy keys' forced command (release_ssh.py) on the host's python3: a stand-in for the
// release tool and for rrsync that print what they were run with, so each case shows what would
// have run, or the refusal and its words. SSH_ORIGINAL_COMMAND is what sshd hands it.
const s = new ToolScratch();
afterAll(() => s.dispose());
const dispatcher = join(s.root, "myproject-release-ssh");
copyFileSync(new URL("../release_ssh.py", import.meta.url), dispatcher);
const echo = (name: string) => {
  const path = join(s.root, `${name}-echo`);
  writeFileSync(path, `#!/bin/sh\necho "${name}: $*"\necho "SSH_ORIGINAL_COMMAND=$SSH_ORIGINAL_COMMAND"\n`, { mode: 0o755 });
  return path;
};
const fakeTool = echo("tool");
const fakeRrsync = echo("rrsync");
const [dev, , prod] = s.envs as [typeof s.prod, typeof s.prod, typeof s.prod];

function ssh(command: string | undefined, ...allowed: string[]) {
  const r = spawnSync(PYTHON, [dispatcher, ...(allowed.length ? allowed : ["dev"])], {
    env: { PATH: process.env.PATH, COVERAGE_PROCESS_START: process.env.COVERAGE_PROCESS_START ?? "", RELEASE_TOOL: fakeTool, RELEASE_RRSYNC: fakeRrsync, RELEASE_TOOL_CONFIG: s.configPath, RELEASE_TOOL_LIB: s.lib, ...(command === undefined ? {} : { SSH_ORIGINAL_COMMAND: command }) },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const refused = (command: string | undefined, why: RegExp, ...allowed: string[]) => {
  const r = ssh(command, ...allowed);
  expect(r.code, `${command}: ${r.stdout}${r.stderr}`).toBe(126);
  expect(r.stdout, "nothing ran").toBe("");
  expect(r.stderr).toMatch(why);
};

describe("the deploy key's forced command", () => {
  it("runs the release tool's deploy steps for its own environment, word for word, with no shell", () => {
    const release = s.release({}, { ready: false, env: dev });
    const path = join(dev.releases, release);
    for (const [command, ran] of [
      ["myproject-release dev new 0123456789abcdef", "tool: dev new 0123456789abcdef"],
      [`myproject-release dev venv ${path} --no-index --find-links /srv/wheelhouse`, `tool: dev venv ${path} --no-index --find-links /srv/wheelhouse`],
      [`myproject-release dev prepare ${path} check collectstatic migrate --migrations`, `tool: dev prepare ${path} check collectstatic migrate --migrations`],
      [`myproject-release dev switch ${release}`, `tool: dev switch ${release}`],
      ["myproject-release dev verify", "tool: dev verify"],
      ["myproject-release dev rollback --to 0123abcd --allow-migrations", "tool: dev rollback --to 0123abcd --allow-migrations"],
      ["/usr/local/bin/myproject-release dev facts", "tool: dev facts"],
    ] as const) {
      const r = ssh(command);
      expect(r.code, `${command}: ${r.stderr}`).toBe(0);
      expect(r.stdout.split("\n")[0]).toBe(ran);
    }
  });

  it("refuses a shell, an empty command and anything that is not the tool or an upload", () => {
    refused(undefined, /no interactive shell/);
    refused("bash", /'bash': this key runs only myproject-release and rsync uploads/);
    refused("sh -c 'myproject-release dev list'", /'sh': this key runs only/);
    refused("myproject-release dev list; id", /not a deploy step this key may run, or wrong arguments/);
    refused("myproject-release 'dev", /cannot read the command/);
  });

  it("refuses another environment, and a server environment no key names", () => {
    refused("myproject-release prod list", /this key deploys dev, not 'prod'/);
    refused("myproject-release prod list", /this key deploys dev, staging, not 'prod'/, "dev", "staging");
    refused("myproject-release dev list", /names environments this server does not have: qa/, "dev", "qa");
  });

  it("refuses release arguments outside the environment and rollback targets with ; $() ` or ..", () => {
    refused(`myproject-release dev switch ${prod.releases}/x`, /is not a release of this environment/);
    refused("myproject-release dev switch ../prod", /is not a release of this environment/);
    refused("myproject-release dev switch ..", /is not a release of this environment/);
    for (const to of ["'x; id'", "'$(id)'", "'`id`'", "../x", "'a b'"]) refused(`myproject-release dev rollback --to ${to}`, /rollback: .* expected --to ID/);
    refused("myproject-release dev new 'abc; id'", /wrong arguments/);
    refused("myproject-release dev prepare x check shell", /prepare: steps must be among check, collectstatic, migrate/);
  });

  it("lets through only the pip options of the allow-list, with plain values", () => {
    refused(`myproject-release dev venv ${dev.releases}/r --target /tmp/x`, /pip option '--target' is not allowed/);
    refused(`myproject-release dev venv ${dev.releases}/r -r /etc/shadow`, /pip option '-r' is not allowed/);
    refused(`myproject-release dev venv ${dev.releases}/r --find-links`, /--find-links: its value '' is missing/);
    refused(`myproject-release dev venv ${dev.releases}/r --index-url 'http://x/$(id)'`, /has characters not allowed/);
    expect(ssh(`myproject-release dev venv ${dev.releases}/r --index-url=http://pypi.local/simple -q`).code).toBe(0);
  });

  it("hands an upload into an unfinished release of its environment to rrsync, write-only, confined to the releases", () => {
    const release = s.release({}, { ready: false, env: dev });
    const r = ssh(`rsync --server -rlce.iLsfxCIvu . ${dev.releases}/${release}/`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`rrsync: -wo -no-del ${dev.releases}`);
    expect(r.stdout).toContain(`SSH_ORIGINAL_COMMAND=rsync --server -rlce.iLsfxCIvu . /${release}/`);
    // The upload counts as work on the release (its deploy stays held while rsync runs).
    expect(existsSync(join(dev.releases, release, ".release-active"))).toBe(true);
  });

  it("refuses rsync anywhere else: reads, other environments, outside the releases, a ready or live release", () => {
    const ready = s.release({}, { env: dev });
    refused(`rsync --server --sender -rlce.iLsfxCIvu . ${dev.releases}/${ready}/`, /only uploads/);
    refused(`rsync --server -rlce.iLsfxCIvu . ${prod.releases}/x/`, /outside the releases of dev/);
    refused(`rsync --server -rlce.iLsfxCIvu . ${dev.root}/`, /outside the releases of dev/);
    refused(`rsync --server -rlce.iLsfxCIvu . ${dev.releases}/../../prod/releases/x/`, /outside the releases of dev/);
    refused(`rsync --server -rlce.iLsfxCIvu . ${dev.releases}/no-such-release/`, /is not a release made by/);
    refused(`rsync --server -rlce.iLsfxCIvu . ${dev.releases}/${ready}/`, /is live or ready/);
    refused(`rsync --server -rlce.iLsfxCIvu . '${dev.releases}/${ready}/'`, /must be a plain path/);
  });
});
