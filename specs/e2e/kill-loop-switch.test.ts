import { describe, expect } from "vitest";
import { touchFile } from "../../harness/project/changes.ts";
import { killLoop } from "./kill.ts";
import { expectNoFailedRequests, jobLogs, onTestbed, pipelineTestbed, servedCommit, SPEC_TRAFFIC } from "./support.ts";

// A deploy killed at each step boundary, and inside venv, prepare (before migrate) and switch:
// the job's container and its process group on the server get SIGKILL, under traffic (kill.ts).
// The points are split over two files, each on its own testbed, so that they run side by side.
const shared = pipelineTestbed();

const POINTS = [
  ["switch:start", "between prepare and switch"],
  ["switch:after-link", "inside switch: the live link moved, gunicorn not restarted"],
  ["switch:after-restart", "inside switch: gunicorn restarted into the new release, not yet seen serving"],
  ["verify:start", "between switch and verify"],
] as const;

killLoop(shared, "deploys killed at the switch, inside it and before verify, under traffic on prod", POINTS);

describe("deploys that overlap, and rollbacks by history, under traffic on prod", () => {
  onTestbed(shared, "two deploys started together: one waits for the other, both land, in order, with 0 failed requests", async ({ tb, data }) => {
    const branch = tb.config.defaultBranch;
    const before = await servedCommit(tb, "prod", data.project.health);
    const { value, traffic } = await data.withTraffic("prod", async () => {
      const a = await data.repo.commit(branch, "First of two", touchFile("overlap.txt", `a ${Date.now()}\n`));
      const first = data.deploy({ branch });
      const b = await data.repo.commit(branch, "Second of two", touchFile("overlap.txt", `b ${Date.now()}\n`));
      const second = data.deploy({ branch });
      return { a, b, results: await Promise.all([first, second]) };
    }, { ...SPEC_TRAFFIC, during: "two deploys started together" });
    for (const r of value.results) expect(r.result.status, jobLogs(r.result)).toBe("success");
    expectNoFailedRequests(traffic, "prod", "two deploys started together");
    expect(traffic.commits).toEqual([before, value.a, value.b]);
  });

  onTestbed(shared, "deploy R6, roll back to R5, deploy R7, roll back: R5 serves again, not R6", async ({ tb, data }) => {
    const branch = tb.config.defaultBranch;
    const r5 = await servedCommit(tb, "prod", data.project.health);
    const step = async (what: string, run: () => Promise<{ result: { status: string } }>) => {
      const { result } = await run();
      expect(result.status, what).toBe("success");
      return servedCommit(tb, "prod", data.project.health);
    };
    const r6 = await data.repo.commit(branch, "R6, bad", touchFile("history.txt", "R6\n"));
    expect(await step("deploy R6", () => data.deploy({ branch }))).toBe(r6);
    expect(await step("roll back from R6", () => data.rollback("prod"))).toBe(r5);
    const r7 = await data.repo.commit(branch, "R7", touchFile("history.txt", "R7\n"));
    expect(await step("deploy R7", () => data.deploy({ branch }))).toBe(r7);
    const back = await data.rollback("prod", { traffic: SPEC_TRAFFIC });
    expect(back.result.status, jobLogs(back.result)).toBe("success");
    expectNoFailedRequests(back.traffic!, "prod", "the rollback from R7");
    expect(back.traffic!.commits, back.traffic!.commits.includes(r6) ? "the rollback from R7 went to R6, a release rolled back from before, not to R5" : "").toEqual([r7, r5]);
  });
});
