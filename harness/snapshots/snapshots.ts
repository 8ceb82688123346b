import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { docker } from "../docker/client.ts";
import { NO_HOOKS, type Hooks } from "../domain/hooks.ts";
import { listFiles } from "../plumbing/files.ts";
import { contentHash } from "../images/hash.ts";
import { IMAGE_LABEL, imageExists, pruneOlderTags, refParts } from "../images/build.ts";
import { ensureImages } from "../images/catalog.ts";
import { PLATFORM_LABEL, selectedPlatform, type Platform } from "../images/base-platform.ts";
import { formatDuration, type Logger } from "../plumbing/log.ts";
import { sampleProjectDir } from "../domain/fixtures.ts";
import { withDiagnostics } from "../probes/diagnostics.ts";
import { cacheDir, PROJECT_ROOT } from "../plumbing/paths.ts";
import { withLock } from "../plumbing/lock.ts";
import { deploy, provision } from "../recipe/recipe.ts";
import { secretsOf, useSecrets, type EnvSecrets } from "../recipe/secrets.ts";
import type { EnvName } from "../domain/envs.ts";
import { Testbed, type StartedTestbed } from "../testbed/testbed.ts";

export type SnapshotStage = "provisioned" | "deployed";

export interface Snapshot {
  appserver: string;
  dbserver: string;
}

export type Snapshots = Record<SnapshotStage, Snapshot>;

/**
 * Servers already provisioned (and deployed) by the recipe, committed to images tagged by a hash of
 * everything that shapes them: the images, the recipe, the sample project. Specs that only need
 * "provisioned" start from one and re-run the recipe, which then only renews what is per testbed
 * (secrets, keys, the app server's address in pg_hba) instead of building it all again.
 */
export interface SnapshotOptions {
  base?: string;
  log: Logger;
  /** A run's changes to what the recipe writes (a fault run's): snapshots of their own. */
  hooks?: Hooks;
}

export async function ensureSnapshots(opts: SnapshotOptions): Promise<Snapshots> {
  // One run at a time per machine builds them; a second (a shard beside it) waits and reuses them.
  return withLock(cacheDir("locks", "snapshots"), "snapshots", 20 * 60_000, () => makeSnapshots(opts));
}

async function makeSnapshots(opts: SnapshotOptions): Promise<Snapshots> {
  const hooks = opts.hooks ?? NO_HOOKS;
  const platform = selectedPlatform(opts.base);
  const images = await ensureImages({ base: opts.base, log: opts.log });
  const ids = await Promise.all([images.appserver, images.dbserver].map(async (r) => (await docker().getImage(r).inspect()).Id));
  // Hooks that change the servers (a catalogued fault) get snapshots of their own, under their own
  // name, so they never replace (or prune) the real ones; `npm run faults` removes them after each fault.
  const changed = hooks.serversKey;
  const key = await contentHash(PROJECT_ROOT, await snapshotInputs(), changed ? [...ids, changed] : ids);
  const prefix = changed ? `${changed}-` : "";
  const refs = (stage: SnapshotStage): Snapshot => ({
    appserver: `django-deploy-testbed/${prefix}appserver-${stage}:${platform.slug}-${key}`,
    dbserver: `django-deploy-testbed/${prefix}dbserver-${stage}:${platform.slug}-${key}`,
  });
  const snapshots: Snapshots = { provisioned: refs("provisioned"), deployed: refs("deployed") };
  const all = Object.values(snapshots).flatMap((s) => [s.appserver, s.dbserver]);
  if ((await Promise.all(all.map(imageExists))).every(Boolean)) return snapshots;

  const started = Date.now();
  opts.log.info(`snapshots: making provisioned and deployed servers (${key})`);
  const tb = await new Testbed().withKind("test").withLogger(opts.log).withImages(images).withHooks(hooks).start();
  const projectDir = hooks.project(sampleProjectDir());
  try {
    await provision(tb, { projectDir, log: opts.log });
    await commit(tb, snapshots.provisioned, "provisioned", platform);
    await deploy(tb, { projectDir, log: opts.log });
    await commit(tb, snapshots.deployed, "deployed", platform);
    await saveSecrets(snapshots, secretsOf(tb));
  } catch (err) {
    // The servers go with the finally below: what they said goes with the error.
    throw await withDiagnostics(tb, err, "the snapshot testbed");
  } finally {
    await tb.stop();
  }
  if (changed) return snapshots;
  // Older generations go, children first (a deployed snapshot is built on a provisioned one, which
  // is built on the server image): otherwise the engine refuses to remove the parents.
  for (const stage of ["deployed", "provisioned"] as const) {
    await pruneOlderTags(`appserver-${stage}`, snapshots[stage].appserver, platform);
    await pruneOlderTags(`dbserver-${stage}`, snapshots[stage].dbserver, platform);
  }
  await pruneOlderTags("appserver", images.appserver, platform);
  await pruneOlderTags("dbserver", images.dbserver, platform);
  opts.log.info(`snapshots: ready in ${formatDuration(Date.now() - started)}`);
  return snapshots;
}

/**
 * What a snapshot is keyed on, besides the server images: every source file of the harness (the
 * recipe runs through much of it: ssh, exec, probes, the step runner), the release tool the recipe
 * installs (release-tool/, without its specs) and the sample project. Listed by walking, not by
 * hand, so a new file can never be left out. Specs do not shape servers.
 */
export async function snapshotInputs(root = PROJECT_ROOT): Promise<string[]> {
  const sources = (await listFiles(root, ["harness", "release-tool"])).filter((f) => !/\.test\.ts$/.test(f) && !f.startsWith("release-tool/tests/"));
  return [...sources, "fixtures/myproject"];
}

/**
 * Where the secrets that an app server image holds are kept: beside the other caches, by the
 * snapshot's tag and the image's id. Another engine on this machine (the emulated cgroup v2 one)
 * builds snapshots of the same tag with secrets of its own: by the tag alone, each build overwrote
 * the other's, and every later testbed on the first engine renewed its secrets (gunicorn restarts
 * and all, about 1.4 s of the sandbox).
 */
export function snapshotSecretsPath(snapshot: Snapshot, imageId: string): string {
  return cacheDir("snapshot-secrets", refParts(snapshot.appserver).tag, `${imageId.replace(/^sha256:/, "").slice(0, 16)}.json`);
}

const imageId = async (ref: string) => (await docker().getImage(ref).inspect()).Id;

/** For each stage's app server image (the deployed one is built on the provisioned one, with the same secrets). */
async function saveSecrets(snapshots: Snapshots, secrets: Record<EnvName, EnvSecrets>): Promise<void> {
  for (const snapshot of Object.values(snapshots)) {
    const path = snapshotSecretsPath(snapshot, await imageId(snapshot.appserver));
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, JSON.stringify(secrets), { mode: 0o600 });
  }
}

/**
 * Gives a testbed started from a snapshot the secrets its servers already hold, so the recipe's
 * re-run finds every environment file and database password as it left them: no gunicorn restart
 * and no ALTER ROLE (about 2.5 s of each such provisioning). For specs that test deploys, not
 * secrets; the recipe still runs in full. Returns false (and the recipe renews them, as on any
 * server) when this build's secrets are not on this machine.
 */
export async function reuseSnapshotSecrets(tb: StartedTestbed, snapshot: Snapshot): Promise<boolean> {
  const text = await readFile(snapshotSecretsPath(snapshot, await imageId(snapshot.appserver)), "utf8").catch(() => undefined);
  if (text) useSecrets(tb, JSON.parse(text) as Record<EnvName, EnvSecrets>);
  return text !== undefined;
}

async function commit(tb: StartedTestbed, snapshot: Snapshot, stage: SnapshotStage, platform: Platform): Promise<void> {
  // Services are stopped first so the images hold cleanly shut down data, not a crash to recover.
  await tb.db.exec.run("systemctl stop postgresql");
  await tb.app.exec.run("systemctl stop gunicorn.target nginx");
  for (const [server, ref, name] of [[tb.app, snapshot.appserver, "appserver"], [tb.db, snapshot.dbserver, "dbserver"]] as const) {
    const { repo, tag } = refParts(ref);
    await docker().getContainer(server.containerId).commit({ repo, tag, pause: true, changes: [`LABEL ${IMAGE_LABEL}=${name}-${stage}`, `LABEL ${PLATFORM_LABEL}=${platform.slug}`] } as never);
  }
  await tb.db.exec.run("systemctl start postgresql");
  await tb.app.exec.run("systemctl start nginx gunicorn.target");
}

