// npm run each-test [-- [--jobs N] FILE…]: runs every test of the given e2e spec files (all of them
// by default) alone, one vitest run per test, `-t` anchored on the test's full name, N runs side by
// side (default 2, as the suite's own workers). A test that passes only after another test of its
// file made some state for it fails here. Prints one line per test and a summary; exits 1 if any
// test failed alone.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { caseCounts, junitCases } from "../../harness/faults/verdict.ts";
import { runVitest } from "../../harness/suite/vitest-run.ts";

interface Listed {
  name: string;
  file: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const args = process.argv.slice(2).filter((a) => a !== "--");
const jobsAt = args.indexOf("--jobs");
const jobs = jobsAt >= 0 ? Number(args.splice(jobsAt, 2)[1]) : 2;
if (!Number.isInteger(jobs) || jobs < 1) {
  process.stderr.write("each-test: --jobs takes a whole number of runs side by side, 1 or more\n");
  process.exit(2);
}
const listed = spawnSync("npx", ["vitest", "list", "--json", "--project", "e2e", ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
if (listed.status !== 0) {
  process.stderr.write(`each-test: vitest list failed (exit ${listed.status}):\n${listed.stderr}\n`);
  process.exit(2);
}
// vitest list prints its JSON after any log lines of the files it imported.
const tests = JSON.parse(listed.stdout.slice(listed.stdout.indexOf("["))) as Listed[];
const failed: string[] = [];
const started = Date.now();
let next = 0;
let done = 0;

const dir = await mkdtemp(join(tmpdir(), "ddt-each-test-"));

async function worker(): Promise<void> {
  while (next < tests.length) {
    const index = next++;
    const t = tests[index]!;
    const file = relative(process.cwd(), t.file);
    const t0 = Date.now();
    // The same child vitest the fault runner uses, one worker, its JUnit report read back.
    // vitest's full name joins the describe blocks and the title with spaces; the list's with " > ".
    const junitPath = join(dir, `${index}.xml`);
    const code = await runVitest({ files: [file], testFilter: `^${escape(t.name.split(" > ").join(" "))}$`, env: {}, junitPath, maxWorkers: 1 });
    const counts = caseCounts(junitCases(await readFile(junitPath, "utf8").catch(() => "")));
    // Exactly one test ran and passed: a pattern that matched nothing or two would prove nothing.
    const ok = code === 0 && counts.passed === 1 && counts.failed === 0;
    done++;
    console.log(`${ok ? "✓" : "✗"} [${done}/${tests.length}] ${file} > ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    if (!ok) {
      failed.push(`${file} > ${t.name}`);
      const out = await readFile(junitPath.replace(/\.xml$/, ".log"), "utf8").catch(() => "(no output)");
      console.log(out.replace(/\x1b\[[0-9;]*m/g, "").split("\n").slice(-80).join("\n"));
    }
  }
}

await Promise.all(Array.from({ length: Math.min(jobs, tests.length) }, worker));
console.log(`each-test: ${tests.length - failed.length} of ${tests.length} passed alone, ${jobs} side by side, in ${((Date.now() - started) / 60000).toFixed(1)} min`);
for (const f of failed) console.log(`  failed alone: ${f}`);
await rm(dir, { recursive: true, force: true });
process.exit(failed.length ? 1 : 0);
