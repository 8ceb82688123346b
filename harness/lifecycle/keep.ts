/** What to leave running when a testbed's work ends. Decided here and nowhere else. */
export type KeepPolicy = "never" | "on-failure" | "always";

export const KEEP_POLICIES: readonly KeepPolicy[] = ["never", "on-failure", "always"];

export function parseKeepPolicy(value: string | undefined, where = "TESTBED_KEEP"): KeepPolicy {
  if (value === undefined || value === "") return "never";
  if ((KEEP_POLICIES as readonly string[]).includes(value)) return value as KeepPolicy;
  throw new Error(`${where}="${value}": unknown keep policy; use one of ${KEEP_POLICIES.join(", ")}`);
}

export function shouldKeep(policy: KeepPolicy, failed: boolean): boolean {
  return policy === "always" || (policy === "on-failure" && failed);
}
