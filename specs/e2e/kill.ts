import { describe, expect } from "vitest";
import { waitFor } from "../../harness/plumbing/deadline.ts";
import { docker } from "../../harness/docker/client.ts";
import { LABEL } from "../../harness/docker/labels.ts";
import { addRequirement, combine, touchFile } from "../../harness/project/changes.ts";
import type { PipelineDeployment } from "../../harness/pipeline/deployment.ts";
import { sh } from "../../harness/shell/quote.ts";
import { expectChecklistPasses } from "./checks.ts";
import { expectNoFailedRequests, jobLogs, onTestbed, servedCommit, SPEC_TRAFFIC, type Shared } from "./support.ts";

// A deploy killed at one of the release tool's crash points (release_state.py), under traffic: the
// job's container and its process group on the server get SIGKILL. The environment keeps serving
// with 0 failed requests, the next deploy succeeds (taking over from the killed one), and a rollback
// then goes to the release that was live before it. A step waits at its crash point once the
// environment's crash-point file names it, so the kill lands exactly there.
type S = Shared<PipelineDeployment>;

/** The job containers of a testbed's running pipelines. */
export const jobContainers = (s: S) => docker().listContainers({ filters: { label: [`${LABEL.testbed}=${s.tb.id}`, `${LABEL.kind}=job`] } });

/** SIGKILL for the deploy job's container and for the process group that reached the crash point. */
async function killDeploy(s: S, reached: string): Promise<void> {
  const [, , pgid] = reached.trim().split(" ");
  await Promise.all((await jobContainers(s)).map((j) => docker().getContainer(j.Id).kill({ signal: "SIGKILL" }).catch(() => undefined)));
  await s.tb.app.exec.run(sh`kill -KILL -- ${`-${pgid}`}`, { allowFailure: true });
}

export async function killedAt(s: S, point: string): Promise<void> {
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

      // The next deploy and the rollback are the ordinary ones, shown without failed requests by
      // deploy-under-traffic: here, what they find after the kill, and where they land.
      const next = await data.deploy({ branch }, { traffic: SPEC_TRAFFIC });
      const logs = jobLogs(next.result);
      expect(next.result.status, logs).toBe("success");
      expectNoFailedRequests(next.traffic!, "prod", `the deploy after the one killed at ${point}`);
      // What served after the kill, then the new release: no other release in between.
      const afterKill = killed.traffic.commits.at(-1)!;
      expect(next.traffic!.commits, `the deploy after the kill at ${point}`).toEqual(afterKill === commit ? [commit] : [afterKill, commit]);
      await expectChecklistPasses(tb, "prod");

      const back = await data.rollback("prod");
      expect(back.result.status, jobLogs(back.result)).toBe("success");
      expect(await servedCommit(tb, "prod", data.project.health), `the rollback after the deploy killed at ${point}`).toBe(afterKill === commit ? commit : before);
}

/** One test a crash point: [point, where it is in words]. */
export function killLoop(shared: () => S, title: string, points: ReadonlyArray<readonly [point: string, where: string]>): void {
  describe(title, () => {
    for (const [point, where] of points) {
      onTestbed(shared, `killed ${where} (${point}): prod serves with 0 failed requests, the next deploy succeeds, and a rollback goes to the release live before it`, (s) => killedAt(s, point));
    }
  });
}
