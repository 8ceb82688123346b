// `npm run test:cgroup2`: the servers' flags on a cgroup v2 engine, as most users' hosts have, on
// this cgroup v1 machine. It starts an emulated cgroup v2 engine (harness/docker/engine-cgroup2.ts), gives
// it this engine's images (it has no NAT to build them with), runs the foundation spec and a full
// provision-and-deploy spec against it through DOCKER_HOST, and stops it again, also on Ctrl-C.
import { join } from "node:path";
import { copyImages, startCgroup2Engine, stopCgroup2Engine } from "../../harness/docker/engine-cgroup2.ts";
import { ensureImages } from "../../harness/images/catalog.ts";
import { runVitest } from "../../harness/suite/vitest-run.ts";
import { PROJECT_ROOT } from "../../harness/plumbing/paths.ts";
import { log, main } from "../cli.ts";

const SPECS = ["specs/e2e/setup.test.ts", "specs/e2e/testbed.test.ts", "specs/e2e/recipe-environments.test.ts"];

await main(async () => {
  const images = await ensureImages({ log });
  const dockerHost = await startCgroup2Engine(log);
  const stop = () => void stopCgroup2Engine(log).finally(() => process.exit(130));
  process.once("SIGINT", stop).once("SIGTERM", stop);
  try {
    await copyImages(Object.values(images), log);
    log.info(`cgroup v2 engine: DOCKER_HOST=${dockerHost} vitest ${SPECS.join(" ")}`);
    return await runVitest({ files: SPECS, env: { DOCKER_HOST: dockerHost }, junitPath: join(PROJECT_ROOT, "reports", "junit-cgroup2.xml") }, "inherit");
  } finally {
    await stopCgroup2Engine(log);
  }
});
