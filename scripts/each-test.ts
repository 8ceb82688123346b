// npm run each-test [-- [--jobs N] FILE…]: runs every test of the given e2e spec files (all of them
// by default) alone, one vitest run per test, `-t` anchored on the test's full name, N runs side by
// side (default 2, as the suite's own workers). A test that passes only after another test of its
// file made some state for it fails here. Prints one line per test and a summary; exits 1 if any
// test failed alone.
import { spawn, spawnSync } from "node:child_process";
import { relative } from "node:path";

interface Listed {
  name: string;
  file: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function vitestRun(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code, out: out.replace(/\x1b\[[0-9;]*m/g, "") }));
  });
}

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

async function worker(): Promise<void> {
  while (next < tests.length) {
    const t = tests[next++]!;
    const file = relative(process.cwd(), t.file);
    const t0 = Date.now();
    // vitest's full name joins the describe blocks and the title with spaces; the list's with " > ".
    const r = await vitestRun(["run", "--project", "e2e", file, "-t", `^${escape(t.name.split(" > ").join(" "))}$`]);
    const passed = /Tests\s+(\d+) passed/.exec(r.out);
    // Exactly one test ran and passed: a pattern that matched nothing or two would prove nothing.
    const ok = r.code === 0 && passed !== null && Number(passed[1]) === 1 && !/Tests\s+.*failed/.test(r.out);
    done++;
    console.log(`${ok ? "✓" : "✗"} [${done}/${tests.length}] ${file} > ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    if (!ok) {
      failed.push(`${file} > ${t.name}`);
      console.log(r.out.split("\n").slice(-80).join("\n"));
    }
  }
}

await Promise.all(Array.from({ length: Math.min(jobs, tests.length) }, worker));
console.log(`each-test: ${tests.length - failed.length} of ${tests.length} passed alone, ${jobs} side by side, in ${((Date.now() - started) / 60000).toFixed(1)} min`);
for (const f of failed) console.log(`  failed alone: ${f}`);
process.exit(failed.length ? 1 : 0);
