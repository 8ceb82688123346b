import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { docker, isNotFound } from "../docker/client.ts";
import { DockerExecRunner } from "../shell/exec-runner.ts";
import { environments } from "../domain/envs.ts";
import type { Logger } from "../plumbing/log.ts";
import { cacheDir } from "../plumbing/paths.ts";
import { Server, SERVER_ALIASES } from "./server.ts";
import { readKey } from "./keys.ts";
import { readHostKey, StartedTestbed, TESTBED_RECORD, type TestbedRecord } from "./testbed.ts";

/**
 * A handle on a testbed another process started and is keeping (a sandbox), rebuilt from its record
 * and its containers. Disposing it does not remove the testbed: its owner does that.
 */
export async function attachTestbed(id: string, log: Logger): Promise<StartedTestbed> {
  const keyDir = cacheDir("testbeds", id);
  const record = JSON.parse(await readFile(join(keyDir, TESTBED_RECORD), "utf8").catch(() => {
    throw new Error(`testbed ${id}: no record at ${join(keyDir, TESTBED_RECORD)}; is it running? (npm run sandbox -- --keep starts one)`);
  })) as TestbedRecord;
  const adminKey = await readKey(keyDir, "admin");
  const [app, db] = await Promise.all(
    (["app", "db"] as const).map(async (role) => {
      const info = await docker().getContainer(`${id}-${role}`).inspect().catch((err) => {
        throw isNotFound(err) ? new Error(`testbed ${id}: its ${role} server (${id}-${role}) is gone; start a new sandbox`) : err;
      });
      if (!info.State.Running) throw new Error(`testbed ${id}: its ${role} server is ${info.State.Status}, not running`);
      const ports = new Map(record.ports[role].map((p) => [p, Number(info.NetworkSettings.Ports[`${p}/tcp`]?.[0]?.HostPort)]));
      const hostKey = await readHostKey(new DockerExecRunner(info.Id, `${id}-${role} (docker exec)`));
      return new Server(role, info.Id, SERVER_ALIASES[role], ports, hostKey, adminKey.private);
    }),
  );
  // "always": whatever this handle does, disposing it leaves the testbed to its owner.
  return new StartedTestbed({ id, network: record.network, images: record.images, config: record.config, envs: environments(record.config), app: app!, db: db!, adminKey, keyDir, keep: "always", log });
}
