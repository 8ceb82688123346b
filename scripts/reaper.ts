// Started detached by the e2e global setup: when the test run's main process is gone (finished,
// Ctrl-C, crash, kill -9), removes what that run created and did not keep, then exits.
// Vitest exits a millisecond after SIGINT, too soon for any cleanup of its own.
import { hostname } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { isKept, isOwnedBy, ownerLabel, processAlive } from "../harness/docker/labels.ts";
import { removeTestbeds } from "../harness/testbed/cleanup.ts";

const pid = Number(process.argv[2]);
const owner = ownerLabel({ host: hostname(), pid });


if (!Number.isInteger(pid) || pid <= 1) {
  process.stderr.write(`reaper: needs the pid to watch, got "${process.argv[2]}"\n`);
  process.exit(2);
}
while (processAlive(pid)) await delay(250);
// An engine that is gone (the emulated cgroup v2 engine stops right after its run) took its
// containers with it: nothing is left to remove.
const r = await removeTestbeds({ kinds: ["test", "job", "sandbox", "preflight", "gate"], where: (l) => isOwnedBy(l, owner) && !isKept(l) }).catch((err: NodeJS.ErrnoException) => {
  if (err.code === "ENOENT" || err.code === "ECONNREFUSED") process.exit(0);
  throw err;
});
if (r.containers.length + r.networks.length) {
  process.stderr.write(`\n[reaper] the test run ended early; removed ${r.containers.length} containers and ${r.networks.length} networks it left\n`);
}
