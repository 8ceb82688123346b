import { join } from "node:path";
import { isAbandoned, isOwnedBy, LABEL } from "../docker/labels.ts";
import { removeTestbeds } from "../testbed/cleanup.ts";
import { sh, shellQuote } from "../shell/quote.ts";
import type { Logger } from "../plumbing/log.ts";
import { ENV_NAMES, type EnvName } from "../domain/envs.ts";
import { sampleProjectDir } from "../domain/fixtures.ts";
import { ensureImages, type ImageSet } from "../images/catalog.ts";
import { ensureSnapshots, reuseSnapshotSecrets, type Snapshot } from "../snapshots/snapshots.ts";
import { Lifecycle } from "../lifecycle/lifecycle.ts";
import { concurrently, type Step } from "../lifecycle/steps.ts";
import { hostFlags } from "../docker/container-flags.ts";
import { selectedPlatform } from "../images/base-platform.ts";
import { describeServerPlatform, serverPlatform } from "../probes/server-versions.ts";
import { jobTail } from "../pipeline/job-script.ts";
import { PipelineDeployment } from "../pipeline/deployment.ts";
import { waitForEnvironment } from "../probes/ready.ts";
import { Testbed, type StartedTestbed } from "../testbed/testbed.ts";

export interface SandboxOptions {
  envs?: EnvName[];
  base?: string;
  /** Leave it running after Ctrl-C (and after a failure). */
  keep?: boolean;
  /** Provision from bare servers instead of from the recipe's snapshot. */
  fresh?: boolean;
  projectDir?: string;
  log: Logger;
  signal?: AbortSignal;
}

interface SandboxContext {
  images?: Partial<ImageSet>;
  tb?: StartedTestbed;
  deployment?: PipelineDeployment;
  platform?: string;
  snapshot?: Snapshot;
}

export interface SandboxRow {
  env: EnvName;
  url: string;
  ssh: string;
  database: string;
}

/** A throwaway deployment to poke at: built, booted, provisioned, deployed through the pipeline. */
export class Sandbox {
  readonly lifecycle: Lifecycle<SandboxContext>;
  private readonly ctx: SandboxContext = {};

  constructor(private readonly opts: SandboxOptions) {
    this.lifecycle = new Lifecycle<SandboxContext>({
      log: opts.log,
      keep: opts.keep ? "always" : "never",
      signal: opts.signal,
      teardown: (c) => this.teardown(c),
      describeKept: (c) => (c.tb ? `sandbox ${c.tb.id} left running; remove it with: npm run sandbox -- down` : "nothing was started"),
    });
  }

  private steps(): Step<SandboxContext>[] {
    const projectDir = this.opts.projectDir ?? sampleProjectDir();
    const steps: Step<SandboxContext>[] = [
      {
        name: "build images",
        phase: "build",
        run: async (c) => {
          const images = await ensureImages({ base: this.opts.base, log: this.opts.log });
          // The snapshot holds what the recipe built before; the recipe still runs, renewing secrets and keys.
          // A deployed snapshot has each environment's venv, so the pipeline's first deploy reuses it.
          if (!this.opts.fresh) c.snapshot = (await ensureSnapshots({ base: this.opts.base, log: this.opts.log })).deployed;
          c.images = { ...images, ...c.snapshot };
        },
      },
      {
        name: "boot servers",
        phase: "boot",
        run: async (c) => {
          this.opts.log?.info(`engine: ${(await hostFlags()).line}`);
          const tb = new Testbed().withKind("sandbox").withLogger(this.opts.log).withKeep(this.opts.keep ? "always" : "never").withImages(c.images ?? {});
          c.tb = await (this.opts.base ? tb.withBase(this.opts.base) : tb).start();
        },
      },
      {
        name: "provision (recipe over ssh)",
        phase: "provision",
        run: async (c) => {
          // From the deployed snapshot, the servers keep the secrets they were made with: the
          // recipe then restarts nothing (a throwaway on 127.0.0.1; --fresh makes new ones).
          if (c.snapshot) await reuseSnapshotSecrets(c.tb!, c.snapshot);
          // The repository is kept with the testbed's keys, so that `npm run sandbox -- deploy` from
          // another terminal finds it. Side by side with the recipe, which it does not touch: the
          // platform the servers run, read from them (about 0.3 s off the sandbox's time).
          const [deployment, platform] = await Promise.all([
            PipelineDeployment.provision(c.tb!, { projectDir, envs: this.opts.envs, repoRoot: sandboxRepoRoot(c.tb!) }),
            serverPlatform(c.tb!),
          ]);
          Object.assign(c, { deployment, platform: `${selectedPlatform(this.opts.base).spec}, ${describeServerPlatform(platform)}` });
        },
      },
    ];
    const names = this.opts.envs ?? ENV_NAMES;
    steps.push({
      name: "branches",
      phase: "deploy",
      run: async (c) => {
        // Made one at a time: git takes a lock on refs.
        for (const name of names) await c.deployment!.repo.branch(c.deployment!.branchFor(name), c.tb!.config.defaultBranch);
      },
    });
    // Each environment's pipeline touches only its own directory, unit and database: run them side by side.
    steps.push(concurrently("deploy through the pipeline", "deploy", names.map((name) => [this.deployStep(name)])));
    return steps;
  }

  private deployStep(name: EnvName): Step<SandboxContext> {
    return {
      name: `deploy ${name} (pipeline)`,
      phase: "deploy",
      run: async (c) => {
        const { branch, result } = await c.deployment!.deploy({ env: name });
        const job = result.jobs[0];
        if (result.status !== "success" || !job) {
          throw new Error(`pipeline on ${branch}: ${jobTail(job, 25)}`);
        }
        await waitForEnvironment(c.tb!, c.tb!.env(name), 30_000, c.deployment!.project.health);
      },
    };
  }

  async start(): Promise<SandboxRow[]> {
    await this.lifecycle.run(this.steps(), this.ctx);
    return this.table();
  }

  get testbed(): StartedTestbed | undefined {
    return this.ctx.tb;
  }

  /** TESTBED_BASE as asked, and what the servers run, as read from them. */
  get platform(): string | undefined {
    return this.ctx.platform;
  }

  table(): SandboxRow[] {
    const tb = this.ctx.tb!;
    // A person's shell as the environment's user, with the operator's key (the CI keys only deploy).
    const sshAs = (user: string) => tb.sshCommand(tb.app, user, this.ctx.deployment!.keys.operator.path);
    return tb.envs
      .filter((e) => !this.opts.envs || this.opts.envs.includes(e.name))
      .map((e) => ({
        env: e.name,
        url: tb.url(e.name),
        ssh: sshAs(e.user),
        // Postgres admits the app server only: go through it, with the environment's own settings.
        database: `${sshAs(e.user)} -t ${shellQuote(sh`set -a; . ${e.envFile}; PGPASSWORD=$DATABASE_PASSWORD exec psql -h $DATABASE_HOST -U $DATABASE_USER $DATABASE_NAME`)}`,
      }));
  }

  /** Ends the sandbox as its keep option says. */
  stop(failed = false): Promise<"removed" | "kept"> {
    return this.lifecycle.end(this.ctx, failed);
  }

  private async teardown(c: SandboxContext): Promise<void> {
    await c.deployment?.repo[Symbol.asyncDispose]();
    if (c.tb) await c.tb.stop();
    // Anything this process created but had not handed over yet (an interrupted start).
    await removeTestbeds({ kinds: ["sandbox", "job"], where: (l) => isSandbox(l) && isOwnedBy(l) });
  }
}

/** Where a sandbox keeps its git repository: beside its keys, removed with them. */
export const sandboxRepoRoot = (tb: StartedTestbed) => join(tb.keyDir, "repo");

export const isSandbox = (l: Record<string, string>) => l[LABEL.testbed]?.startsWith("ddt-sandbox-") === true;

/** Removes sandboxes (with their job containers and keys): all of them, or only those a killed run left. */
export async function removeSandboxes(which: "all" | "abandoned"): Promise<string[]> {
  return (await removeTestbeds({ kinds: ["sandbox", "job"], where: (l) => isSandbox(l) && (which === "all" || isAbandoned(l)) })).testbeds;
}
