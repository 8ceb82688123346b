/**
 * Splits spec files into shards of about equal time: longest first, each onto the shard with the
 * least time so far (ties to the lower shard, files in path order), so every shard computes the same
 * split. Files without a measured weight count as `unknownWeight`.
 */
export function assignShards(files: string[], weights: Readonly<Record<string, number>>, count: number, unknownWeight = 1): string[][] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`shards: a count of ${count} cannot split anything; use --shard=i/n with n ≥ 1`);
  const weight = (f: string) => weights[f] ?? unknownWeight;
  // By name, then by weight: the sort is stable, so equal weights keep their names' order.
  const order = [...new Set(files)].sort().sort((a, b) => weight(b) - weight(a));
  const shards = Array.from({ length: count }, () => ({ files: [] as string[], total: 0 }));
  for (const file of order) {
    const lightest = shards.reduce((best, s, i) => (s.total < shards[best]!.total ? i : best), 0);
    shards[lightest]!.files.push(file);
    shards[lightest]!.total += weight(file);
  }
  return shards.map((s) => s.files.sort());
}

/**
 * `items` in an order drawn from `seed` (mulberry32, Fisher–Yates): the same seed gives the same
 * order on every machine, so a failing shuffled run is repeated with its seed.
 */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
