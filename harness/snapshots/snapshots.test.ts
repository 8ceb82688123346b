import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { contentHash } from "../images/hash.ts";
import { snapshotInputs, snapshotSecretsPath } from "./snapshots.ts";

// A tree shaped like the project's: the snapshot key must follow every file the recipe runs through.
const root = mkdtempSync(join(tmpdir(), "ddt-snapshot-key-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FILES = [
  "harness/docker/exec-api.ts",
  "harness/testbed/server.ts",
  "harness/probes/ready.ts",
  "harness/lifecycle/runner.ts",
  "release-tool/release_tool.py",
  "release-tool/checklist.json",
  "harness/envs.ts",
  "fixtures/myproject/manage.py",
];
const write = (file: string, text: string) => {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
};
for (const f of FILES) write(f, `// ${f}\n`);
write("harness/recipe/generators.test.ts", "// a spec\n");
write("release-tool/tests/scratch.ts", "// the tool's specs' helper\n");
const key = async () => contentHash(root, await snapshotInputs(root), ["image-ids"]);

describe("the snapshot key", () => {
  it("changes when any file under harness/, the release tool or the sample project changes", async () => {
    for (const f of FILES) {
      const before = await key();
      write(f, `// ${f}, changed\n`);
      expect(await key(), f).not.toBe(before);
    }
  });

  it("does not change for a spec, or the release tool's specs, which shape no server", async () => {
    const before = await key();
    write("harness/recipe/generators.test.ts", "// a spec, changed\n");
    write("release-tool/tests/scratch.ts", "// the tool's specs' helper, changed\n");
    expect(await key()).toBe(before);
  });

  it("does not change when python3 writes its byte-code cache beside the release tool", async () => {
    const before = await key();
    write("release-tool/__pycache__/release_state.cpython-311.pyc", `${Date.now()}`);
    write("fixtures/myproject/__pycache__/manage.cpython-311.pyc", `${Date.now()}`);
    expect(await key()).toBe(before);
    // Only the cache directory is left out: a module whose name merely contains it counts.
    write("release-tool/__pycache__.py", "# a module\n");
    expect(await key()).not.toBe(before);
  });
});

describe("a snapshot's saved secrets", () => {
  it("are kept per image build, so another engine's build of the same tag keeps its own", () => {
    const snapshot = { appserver: "django-deploy-testbed/appserver-deployed:bookworm-0123456789abcdef", dbserver: "x" };
    const mine = snapshotSecretsPath(snapshot, "sha256:aaaaaaaaaaaaaaaa1111");
    const other = snapshotSecretsPath(snapshot, "sha256:bbbbbbbbbbbbbbbb1111");
    expect(mine).not.toBe(other);
    expect(mine).toMatch(/snapshot-secrets\/bookworm-0123456789abcdef\/aaaaaaaaaaaaaaaa\.json$/);
  });
});
