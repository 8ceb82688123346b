declare module "gitlab-ci-local/src/schema/schema.js" {
  export const schema: Record<string, unknown>;
}

declare module "gitlab-ci-local/src/handler.js" {
  /** gitlab-ci-local's CLI entry, in process: `args` are its options in camelCase. */
  export function handler(args: Record<string, unknown>, writeStreams: unknown): Promise<unknown>;
}

declare module "gitlab-ci-local/src/write-streams.js" {
  export class WriteStreamsMock {
    stdoutLines: string[];
    stderrLines: string[];
    stdout(txt: string): void;
    stderr(txt: string): void;
    flush(): void;
  }
}
