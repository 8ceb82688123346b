export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs `fn` n times, one after another, and returns every duration in ms. */
export async function timeRuns(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = Date.now();
    await fn();
    out.push(Date.now() - t);
  }
  return out;
}

export const seconds = (ms: number) => Math.round(ms / 100) / 10;
