import { basename } from "node:path";
import type { ImageSet } from "../images/catalog.ts";
import { PipelineDeployment } from "../pipeline/deployment.ts";
import { plainLog } from "../pipeline/job-script.ts";
import { Testbed } from "../testbed/testbed.ts";
import { median, seconds } from "./stats.ts";

/**
 * A project that is not the sample, deployed to prod the way the observing specs do (a testbed from
 * the provisioned snapshot, set up for the project): its first deploy, which builds its venv, and
 * deploys with unchanged requirements (the median of `runs`, at least three), beside the sample's.
 */
export async function shapeDeployFigures(images: Partial<ImageSet>, projectDir: string, runs: number) {
  await using tb = await new Testbed().withImages(images).start();
  await using d = await PipelineDeployment.provision(tb, { projectDir, envs: ["prod"] });
  const main = tb.config.defaultBranch;
  const deploy = async (n: number) => {
    if (n > 0) await d.repo.commit(main, `bench ${n}`, { write: { "BENCH.txt": `${n}\n` } });
    const { result } = await d.deploy({ env: "prod" });
    if (result.status !== "success") throw new Error(`bench: deploy ${n} of ${projectDir} failed:\n${plainLog(result.jobs[0]?.log ?? "")}`);
    return result.jobs[0]!.durationMs;
  };
  const first = await deploy(0);
  const unchanged = [];
  for (let i = 1; i <= Math.max(runs, 3); i++) unchanged.push(await deploy(i));
  return { shape: basename(projectDir), firstDeployS: seconds(first), deployUnchangedRequirementsS: seconds(median(unchanged)) };
}
