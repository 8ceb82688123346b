/**
 * A job's `timeout:` as GitLab reads it ("15 minutes", "1h 30m", "3 hours 30 minutes", "90s"; a
 * bare number is seconds), and the duration as GitLab Runner writes it in its failure line
 * ("execution took longer than 15m0s seconds": Go's duration format, its words kept).
 */

const UNITS: ReadonlyArray<[RegExp, number]> = [
  [/^(?:s|sec|secs|second|seconds)$/, 1],
  [/^(?:m|min|mins|minute|minutes)$/, 60],
  [/^(?:h|hr|hrs|hour|hours)$/, 3600],
  [/^(?:d|day|days)$/, 86_400],
];

/** The timeout in milliseconds; throws, naming the text, on anything GitLab would not accept. */
export function parseJobTimeout(text: string | number): number {
  if (typeof text === "number" || /^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+)/gi)];
  const rest = text.replace(/(\d+(?:\.\d+)?)\s*([a-z]+)/gi, "").replace(/\band\b|[\s,]/gi, "");
  if (!parts.length || rest) throw new Error(`timeout: "${text}" is not a duration GitLab reads; write it as "15 minutes", "1h 30m" or "90s"`);
  let seconds = 0;
  for (const [, amount, unit] of parts) {
    const factor = UNITS.find(([re]) => re.test(unit!.toLowerCase()))?.[1];
    if (factor === undefined) throw new Error(`timeout: "${text}": "${unit}" is not a unit of time; use s, m, h or d (or their words)`);
    seconds += Number(amount) * factor;
  }
  if (seconds <= 0) throw new Error(`timeout: "${text}" is no time at all; a job needs a positive timeout`);
  return Math.round(seconds * 1000);
}

/** Go's time.Duration format, as GitLab Runner prints it: 2s, 15m0s, 1h30m0s. */
export function goDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}
