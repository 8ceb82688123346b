import { describe, expect } from "vitest";
import { waitFor } from "../../harness/core/deadline.ts";
import { docker } from "../../harness/docker/client.ts";
import { LABEL } from "../../harness/docker/labels.ts";
import { addRequirement, combine, touchFile } from "../../harness/project/changes.ts";
import type { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { sh } from "../../harness/shell/quote.ts";
import { expectChecklistPasses } from "./checks.ts";
import { expectNoFailedRequests, jobLogs, onTestbed, pipelineTestbed, servedCommit, SPEC_TRAFFIC, type Shared } from "./support.ts";

// A deploy killed at each step boundary, and inside venv, prepare (before migrate) and switch: the
// job's container and its process group on the server get SIGKILL, under traffic. The environment
// keeps serving with 0 failed requests, the next deploy succeeds (taking over from the killed one),
// and a rollback then goes to the release that was live before it. The instants are the release
// tool's crash points (release_state.py): a step waits there once the environment's crash-point
// file names it, so the kill lands exactly there.
const shared = pipelineTestbed();
type S = Shared<PipelineDeployment>;

const POINTS = [
  ["new:after-release", "after `new`, before the upload"],
  ["venv:start", "between the upload and venv"],
  ["venv:built", "inside venv: the venv made, pip not yet done"],
  ["prepare:start", "between venv and prepare"],
  ["migrate:start", "inside prepare: check and collectstatic done, migrate not"],
  ["switch:start", "between prepare and switch"],
  ["switch:after-link", "inside switch: the live link moved, gunicorn not restarted"],
  ["switch:after-restart", "inside switch: gunicorn restarted into the new release, not yet seen serving"],
  ["verify:start", "between switch and verify"],
] as const;

/** SIGKILL for the deploy job's container and for the process group that reached the crash point. */
async function killDeploy(s: S, reached: string): Promise<void> {
  const [, , pgid] = reached.trim().split(" ");
  const jobs = await docker().listContainers({ filters: { label: [`${LABEL.testbed}=${s.tb.id}`, `${LABEL.kind}=job`] } });
  await Promise.all(jobs.map((j) => docker().getContainer(j.Id).kill({ signal: "SIGKILL" }).catch(() => undefined)));
  await s.tb.app.exec.run(sh`kill -KILL -- ${`-${pgid}`}`, { allowFailure: true });
}

describe("deploys killed at every step boundary and inside venv, migrate and switch, under traffic on prod", () => {
  for (const [point, where] of POINTS) {
    onTestbed(shared, `killed ${where} (${point}): prod serves with 0 failed requests, the next deploy succeeds, and a rollback goes to the release live before it`, async (s) => {
      const { tb, data } = s;
      const prod = tb.env("prod");
      const branch = tb.config.defaultBranch;
      const crash = `${prod.root}/.release-crash-point`;
      const before = await servedCommit(tb, "prod", data.project.health);
      // A new venv only for the point inside venv's build: other changes reuse the venv they find.
      const change = combine(touchFile("killed.txt", `${point} ${Date.now()}\n`), point === "venv:built" ? addRequirement(data.repo.dir, data.project, `# a new venv ${Date.now()}`) : {});
      const commit = await data.repo.commit(branch, `Killed at ${point}`, change);
      await tb.app.exec.run(sh`rm -f ${`${crash}.reached`} && printf %s ${point} > ${crash} && chmod 644 ${crash}`);
      let killed;
      try {
        killed = await data.withTraffic("prod", async () => {
          const deploy = data.deploy({ branch });
          const reached = await waitFor(`the deploy never reached ${point}`, async () => {
            const r = await tb.app.exec.run(sh`cat ${`${crash}.reached`}`, { allowFailure: true });
            return r.exitCode === 0 && r.stdout.trim() ? r.stdout : undefined;
          }, { timeoutMs: 60_000 });
          await killDeploy(s, reached);
          return (await deploy).result;
        }, { ...SPEC_TRAFFIC, during: `a deploy killed at ${point}` });
      } finally {
        await tb.app.exec.run(sh`rm -f ${crash} ${`${crash}.reached`}`);
      }
      expect(killed.value.status, jobLogs(killed.value)).toBe("failed");
      expectNoFailedRequests(killed.traffic, "prod", `a deploy killed at ${point}`);
      // Killed once gunicorn ran the new release, it may already have answered: nothing else.
      expect(killed.traffic.commits[0]).toBe(before);
      expect(killed.traffic.commits.every((c) => c === before || c === commit), killed.traffic.commits.join(" → ")).toBe(true);
      // Nothing of the killed deploy runs on any more (it died with its connection, or by the kill).
      expect((await tb.app.exec.run(sh`pgrep -u ${prod.user} -f ${`release prod`}`, { allowFailure: true })).stdout.trim()).toBe("");

      const next = await data.deploy({ branch }, { traffic: SPEC_TRAFFIC });
      const logs = jobLogs(next.result);
      expect(next.result.status, logs).toBe("success");
      expectNoFailedRequests(next.traffic!, "prod", `the deploy after the one killed at ${point}`);
      // What served after the kill, then the new release: no other release in between.
      const afterKill = killed.traffic.commits.at(-1)!;
      expect(next.traffic!.commits, `the deploy after the kill at ${point}`).toEqual(afterKill === commit ? [commit] : [afterKill, commit]);
      await expectChecklistPasses(tb, "prod");

      const back = await data.rollback("prod", { traffic: SPEC_TRAFFIC });
      expect(back.result.status, jobLogs(back.result)).toBe("success");
      expectNoFailedRequests(back.traffic!, "prod", "the rollback");
      expect(await servedCommit(tb, "prod", data.project.health), `the rollback after the deploy killed at ${point}`).toBe(afterKill === commit ? commit : before);
    });
  }
});

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
      const jobs = await docker().listContainers({ filters: { label: [`${LABEL.testbed}=${tb.id}`, `${LABEL.kind}=job`] } });
      await Promise.all(jobs.map((j) => docker().getContainer(j.Id).kill({ signal: "SIGKILL" }).catch(() => undefined)));
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
