/**
 * Changes a run makes to what the harness writes and runs, passed explicitly: through the testbed
 * builder (`withHooks`), the recipe's options and a pipeline's generation and run. This is how
 * `npm run faults` injects a catalogued fault without editing a source file; every other run uses
 * NO_HOOKS, the identity. Nothing below harness/faults/ knows which fault, or that there is one.
 */
export interface Hooks {
  /**
   * Names the change to what servers hold, for caches keyed on it (snapshots get their own images
   * under this name); undefined when the hooks leave the servers as the recipe makes them.
   */
  readonly serversKey?: string;
  /** A file the recipe writes to a server, by its path on the server. */
  file(path: string, text: string): string;
  /** The mode the recipe gives a file it writes. */
  mode(path: string, mode: string): string;
  /** A pipeline as the executor receives it: the generated .gitlab-ci.yml, or one a spec built. */
  pipeline(yaml: string): string;
  /** The release steps, in the order the recipe and the pipeline run them. */
  steps<T extends { step: string }>(steps: ReadonlyArray<T>): ReadonlyArray<T>;
  /** A project directory as the run deploys it: the same one, or a changed copy. */
  project(dir: string): string;
}

export const NO_HOOKS: Hooks = {
  file: (_path, text) => text,
  mode: (_path, mode) => mode,
  pipeline: (yaml) => yaml,
  steps: (steps) => steps,
  project: (dir) => dir,
};
