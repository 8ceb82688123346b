import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { contentHash } from "./images/hash.ts";
import { snapshotInputs } from "./snapshot.ts";

// A tree shaped like the project's: the snapshot key must follow every file the recipe runs through.
const root = mkdtempSync(join(tmpdir(), "ddt-snapshot-key-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FILES = [
  "harness/docker/exec.ts",
  "harness/testbed/server.ts",
  "harness/probes/ready.ts",
  "harness/lifecycle/runner.ts",
  "harness/recipe/release-tool.py",
  "harness/envs.ts",
  "fixtures/myproject/manage.py",
];
const write = (file: string, text: string) => {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
};
for (const f of FILES) write(f, `// ${f}\n`);
write("harness/recipe/generators.test.ts", "// a spec\n");
const key = async () => contentHash(root, await snapshotInputs(root), ["image-ids"]);

describe("the snapshot key", () => {
  it("changes when any file under harness/ or the sample project changes", async () => {
    for (const f of FILES) {
      const before = await key();
      write(f, `// ${f}, changed\n`);
      expect(await key(), f).not.toBe(before);
    }
  });

  it("does not change for a spec, which shapes no server", async () => {
    const before = await key();
    write("harness/recipe/generators.test.ts", "// a spec, changed\n");
    expect(await key()).toBe(before);
  });
});
