import { describe, expect } from "vitest";
import { waitFor } from "../../harness/plumbing/deadline.ts";
import { docker } from "../../harness/docker/client.ts";
import { touchFile } from "../../harness/project/changes.ts";
import { sh } from "../../harness/shell/quote.ts";
import { jobContainers, killLoop } from "./kill.ts";
import { jobLogs, onTestbed, pipelineTestbed, servedCommit } from "./support.ts";

// A deploy killed at each step boundary, and inside venv, prepare (before migrate) and switch:
// the job's container and its process group on the server get SIGKILL, under traffic (kill.ts).
// The points are split over two files, each on its own testbed, so that they run side by side.
const shared = pipelineTestbed();

const POINTS = [
  ["new:after-release", "after `new`, before the upload"],
  ["venv:start", "between the upload and venv"],
  ["venv:built", "inside venv: the venv made, pip not yet done"],
  ["prepare:start", "between venv and prepare"],
  ["migrate:start", "inside prepare: check and collectstatic done, migrate not"],
] as const;

killLoop(shared, "deploys killed at the step boundaries before the switch and inside venv and prepare, under traffic on prod", POINTS);

describe("a job killed alone, its step left running on the server", () => {
  onTestbed(shared, "the step dies with the job's ssh connection, and the next deploy goes ahead at once", async (s) => {
    const { tb, data } = s;
    const prod = tb.env("prod");
    const branch = tb.config.defaultBranch;
    const crash = `${prod.root}/.release-crash-point`;
    const commit = await data.repo.commit(branch, "Killed job, step left alone", touchFile("orphan.txt", `${Date.now()}\n`));
    await tb.app.exec.run(sh`rm -f ${`${crash}.reached`} && printf %s venv:start > ${crash} && chmod 644 ${crash}`);
    try {
      const deploy = data.deploy({ branch });
      await waitFor("the deploy never reached venv:start", async () => ((await tb.app.exec.run(sh`test -s ${`${crash}.reached`}`, { allowFailure: true })).exitCode === 0 ? true : undefined), { timeoutMs: 60_000 });
      // Only the job's container: nothing on the server is killed by the spec.
      await Promise.all((await jobContainers(s)).map((j) => docker().getContainer(j.Id).kill({ signal: "SIGKILL" }).catch(() => undefined)));
      expect((await deploy).result.status).toBe("failed");
      let left = "";
      await waitFor("the step outlived its ssh connection", async () => {
        left = (await tb.app.exec.run(sh`pgrep -a -u ${prod.user} -f ${"release prod"}`, { allowFailure: true })).stdout.trim();
        return left === "" ? true : undefined;
      }, { timeoutMs: 10_000, describe: () => `still running: ${left}` });
    } finally {
      await tb.app.exec.run(sh`rm -f ${crash} ${`${crash}.reached`}`);
    }
    const next = await data.deploy({ branch });
    const logs = jobLogs(next.result);
    expect(next.result.status, logs).toBe("success");
    expect(logs).toMatch(/was abandoned \(its ssh connection closed\); taking over/);
    expect(await servedCommit(tb, "prod", data.project.health)).toBe(commit);
  });
});

