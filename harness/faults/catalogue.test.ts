import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, environments } from "../domain/envs.ts";
import { sampleProjectDir } from "../domain/fixtures.ts";
import { loadProject } from "../project/detect.ts";
import { NO_HOOKS } from "../domain/hooks.ts";
import { generatePipeline } from "../pipeline/generate.ts";
import { envFile } from "../recipe/env-file.ts";
import { nginxSite } from "../recipe/nginx.ts";
import { pgHbaBlock, withHbaBlock } from "../recipe/pg-hba.ts";
import { releaseLibraryPath, releaseLibrarySource, releaseToolPath, releaseToolSource } from "../release/tool.ts";
import { releaseSteps } from "../release/commands.ts";
import { sudoersRule } from "../recipe/sudoers.ts";
import { authorizedKeys } from "../recipe/ssh-keys.ts";
import { gunicornSocket, gunicornTarget, gunicornTemplate } from "../recipe/units.ts";
import { FAULTS, mustReplace } from "./catalogue.ts";
import { faultHooks, faultHooksNamed, faultNamed } from "./inject.ts";
import { selectFaults } from "./run.ts";
import { readSettings } from "../plumbing/settings.ts";

// Every file the recipe writes, by its path on the server, as the generators make it.
const envs = environments(DEFAULT_CONFIG);
const SAMPLE = loadProject(sampleProjectDir());
const secrets = { secretKey: "k", dbPassword: "p" };
const FILES: Record<string, string> = {
  "/etc/systemd/system/gunicorn.target": gunicornTarget(),
  "/etc/systemd/system/gunicorn@.service": gunicornTemplate(DEFAULT_CONFIG, SAMPLE),
  "/etc/systemd/system/gunicorn@.socket": gunicornSocket(DEFAULT_CONFIG),
  [`/etc/sudoers.d/${DEFAULT_CONFIG.deployUser}`]: sudoersRule(DEFAULT_CONFIG, envs),
  "/etc/postgresql/15/main/pg_hba.conf": withHbaBlock("local all postgres peer\n", pgHbaBlock(envs, "172.18.0.3")),
  [releaseToolPath(DEFAULT_CONFIG)]: releaseToolSource(),
  [releaseLibraryPath(DEFAULT_CONFIG)]: releaseLibrarySource(),
  ...Object.fromEntries(envs.flatMap((e) => [[`/etc/nginx/sites-available/${e.site}`, nginxSite(e, SAMPLE)], [e.envFile, envFile(e, secrets, "db", ["localhost"], SAMPLE)]])),
  // Each environment's user's keys: a CI key, forced to the release tool, and an operator's.
  ...Object.fromEntries(envs.map((e) => [`${e.root}/.ssh/authorized_keys`, authorizedKeys(DEFAULT_CONFIG, [e.name], { deploy: [{ key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEY", envs: [e.name] }], operator: [] })])),
  // recipe-config's site: behind a TLS proxy whose X-Forwarded-Proto is trusted.
  "/etc/nginx/sites-available/shop-prod": nginxSite(environments({ project: "shop" })[2]!, SAMPLE, { trustedProxies: ["10.0.0.0/8"] }),
};
const STEPS = releaseSteps();

describe("the fault catalogue", () => {
  it("holds at least 20 faults with unique ids, words, and spec files that exist", () => {
    expect(FAULTS.length).toBeGreaterThanOrEqual(20);
    expect(new Set(FAULTS.map((f) => f.id)).size).toBe(FAULTS.length);
    for (const f of FAULTS) {
      expect(f.words.length, f.id).toBeGreaterThan(0);
      for (const spec of f.specs) expect(existsSync(join("specs", "e2e", `${spec}.test.ts`)), `${f.id}: specs/e2e/${spec}.test.ts`).toBe(true);
    }
  });

  // A fault that no longer matches what the generators make would change nothing and count as missed.
  it.each(FAULTS.map((f) => [f.id, f] as const))("%s changes what the recipe or the generator makes today", (_id, f) => {
    const changed: string[] = [];
    if (f.inject.file) for (const [path, text] of Object.entries(FILES)) if (f.inject.file(path, text) !== text) changed.push(path);
    if (f.inject.mode) for (const path of Object.keys(FILES)) if (f.inject.mode(path, "600") !== "600") changed.push(`mode of ${path}`);
    if (f.inject.pipeline && f.inject.pipeline(generatePipeline()) !== generatePipeline()) changed.push(".gitlab-ci.yml");
    if (f.inject.steps && JSON.stringify(f.inject.steps(STEPS)) !== JSON.stringify(STEPS)) changed.push("release steps");
    for (const [path, change] of Object.entries(f.inject.fixture ?? {})) {
      const text = readFileSync(join(sampleProjectDir(), path), "utf8");
      if (change(text) !== text) changed.push(`fixture ${path}`);
    }
    expect(changed, f.id).not.toEqual([]);
  });

  it("mustReplace fails loudly when there is nothing to replace", () => {
    expect(() => mustReplace("abc", "x", "y", "some-fault")).toThrow(/fault some-fault: x not found/);
  });

  it("no fault is active unless TESTBED_FAULT names one; an unknown name lists the known ones", () => {
    expect(faultNamed(readSettings({}).fault)).toBeUndefined();
    expect(faultHooksNamed(readSettings({}).fault)).toBe(NO_HOOKS);
    expect(faultNamed(readSettings({ TESTBED_FAULT: "no-partof" }).fault)?.id).toBe("no-partof");
    expect(() => faultHooksNamed(readSettings({ TESTBED_FAULT: "nope" }).fault)).toThrow(/TESTBED_FAULT=nope: no such fault .*known: workdir-tilde/);
    const fault = (id: string) => FAULTS.find((f) => f.id === id)!;
    // Only a fault that changes the servers asks for snapshots of its own.
    expect(faultHooks(fault("strict-host-key-no")).serversKey).toBeUndefined();
    expect(faultHooks(fault("workdir-tilde")).serversKey).toBe("fault-workdir-tilde");
  });

  it("a fault's hooks change only what it names, and its project copy is made once, outside the repository", () => {
    const hooks = faultHooks(FAULTS.find((f) => f.id === "debug-hardcoded")!);
    expect(hooks.file("/etc/x", "text")).toBe("text");
    expect(hooks.steps(STEPS)).toBe(STEPS);
    const copy = hooks.project(sampleProjectDir());
    expect(copy).not.toBe(sampleProjectDir());
    expect(hooks.project(sampleProjectDir())).toBe(copy);
    expect(readFileSync(join(copy, "myproject", "settings.py"), "utf8")).toMatch(/\nDEBUG = True\n$/);
    expect(readFileSync(join(sampleProjectDir(), "myproject", "settings.py"), "utf8")).not.toMatch(/\nDEBUG = True\n$/);
    expect(NO_HOOKS.project(sampleProjectDir())).toBe(sampleProjectDir());
  });

  it("--only picks faults by id and names an unknown one", () => {
    expect(selectFaults(["no-partof", "no-migrate"]).map((f) => f.id)).toEqual(["no-partof", "no-migrate"]);
    expect(() => selectFaults(["no-partof", "typo"])).toThrow(/--only: no fault typo/);
  });
});
