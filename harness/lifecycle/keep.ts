/** What to leave running when a testbed's work ends. Decided here (endOfLife) and nowhere else. */
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

/**
 * Ends something's life as the policy says: `describeKept` is logged and it stays, or `remove` runs.
 * The one place the policy is applied (a testbed's dispose, a sandbox's lifecycle).
 */
export async function endOfLife(policy: KeepPolicy, failed: boolean, how: { kept(): void; remove(): Promise<void> }): Promise<"kept" | "removed"> {
  if (shouldKeep(policy, failed)) {
    how.kept();
    return "kept";
  }
  await how.remove();
  return "removed";
}
