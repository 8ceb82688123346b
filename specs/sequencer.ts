import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { assignShards, seededShuffle } from "../harness/suite/shards.ts";

const WEIGHTS = (JSON.parse(readFileSync(new URL("./shard-weights.json", import.meta.url), "utf8")) as { seconds: Record<string, number> }).seconds;

/** The global setup's own test: each shard runs its own global setup, so each shard reports it. */
export const SETUP_SPEC = "specs/e2e/setup.test.ts";

/**
 * `--shard=i/n` by measured time instead of vitest's even file count: the e2e files differ tenfold.
 * Every file runs in exactly one shard, except the global setup's check, which runs in each.
 */
export class WeightedSequencer extends BaseSequencer {
  /**
   * The heaviest files first, by the same measured weights, so that the longest (a kill loop, the
   * deploys under traffic) never start last on a fresh clone, where vitest has no timings cached.
   */
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // `--sequence.shuffle`: vitest shuffles files only with its own sequencer, so this one does it,
    // from the same seed (printed at the start), and the tests in each file are shuffled by vitest.
    const { shuffle, seed } = this.ctx.config.sequence;
    if (shuffle) return seededShuffle(files, seed);
    const weight = (f: TestSpecification) => WEIGHTS[relative(this.ctx.config.root, f.moduleId)] ?? 1;
    return [...files].sort((a, b) => weight(b) - weight(a));
  }

  override async shard(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { index, count } = this.ctx.config.shard!;
    const path = (f: TestSpecification) => relative(this.ctx.config.root, f.moduleId);
    const mine = new Set(assignShards(files.map(path).filter((p) => p !== SETUP_SPEC), WEIGHTS, count)[index - 1]);
    return files.filter((f) => mine.has(path(f)) || path(f) === SETUP_SPEC);
  }
}
