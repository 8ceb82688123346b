/**
 * Splits spec files into shards of about equal time: longest first, each onto the shard with the
 * least time so far (ties to the lower shard, files in path order), so every shard computes the same
 * split. Files without a measured weight count as `unknownWeight`.
 */
export function assignShards(files: string[], weights: Readonly<Record<string, number>>, count: number, unknownWeight = 1): string[][] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`shards: a count of ${count} cannot split anything; use --shard=i/n with n ≥ 1`);
  const weight = (f: string) => weights[f] ?? unknownWeight;
  const order = [...new Set(files)].sort((a, b) => weight(b) - weight(a) || (a < b ? -1 : a > b ? 1 : 0));
  const shards = Array.from({ length: count }, () => ({ files: [] as string[], total: 0 }));
  for (const file of order) {
    const lightest = shards.reduce((best, s, i) => (s.total < shards[best]!.total ? i : best), 0);
    shards[lightest]!.files.push(file);
    shards[lightest]!.total += weight(file);
  }
  return shards.map((s) => s.files.sort());
}
