// Removes what the project left on this engine: `npm run clean` (every testbed, sandbox and job
// container, network and volume), `-- --testbed ID` (one), `-- --images` (also images and caches).
import { rm } from "node:fs/promises";
import { parseArgs } from "node:util";
import { docker } from "../harness/docker/client.ts";
import { removeTestbeds } from "../harness/testbed/cleanup.ts";
import { IMAGE_LABEL } from "../harness/images/build.ts";
import { cacheDir } from "../harness/plumbing/paths.ts";
import { CGROUP2_ENGINE, stopCgroup2Engine } from "../harness/docker/engine-cgroup2.ts";
import { log, main } from "./cli.ts";

await main(async () => {
  const { values } = parseArgs({ options: { testbed: { type: "string" }, images: { type: "boolean" } } });
  const r = await removeTestbeds({ testbed: values.testbed });
  log.info(`removed ${r.containers.length} containers, ${r.networks.length} networks, ${r.volumes.length} volumes`);
  if (!values.testbed) await rm(cacheDir("testbeds"), { recursive: true, force: true });
  if (values.images) {
    const images = await docker().listImages({ filters: { label: [IMAGE_LABEL] } });
    for (const img of images) await docker().getImage(img.Id).remove({ force: true });
    await rm(cacheDir(), { recursive: true, force: true });
    // The emulated cgroup v2 engine's images live in its own data root (npm run test:cgroup2).
    await stopCgroup2Engine(log);
    await rm(CGROUP2_ENGINE.dataRoot, { recursive: true, force: true });
    log.info(`removed ${images.length} images, ${cacheDir()} and ${CGROUP2_ENGINE.dataRoot}`);
  }
});
