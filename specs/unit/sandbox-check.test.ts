import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../harness/plumbing/log.ts";
import { checkProject } from "../../harness/sandbox/check.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}/`, import.meta.url));

// `npm run sandbox -- check --project PATH`, without a server: the host's pip asks the package index.
describe("npm run sandbox -- check", () => {
  it("reports what it detects and each problem of a project that must not deploy, the unservable requirement by its line", async () => {
    const { report, errors } = await checkProject(fixture("broken-sqlite"), { base: "debootstrap:bookworm", log: silentLogger });
    expect(errors).toBe(5);
    expect(report).toContain("settings module        mysite.settings  (manage.py)");
    expect(report).toContain("8 problem(s):");
    expect(report).toContain("error:   requirements.txt:2: ddt-not-on-any-index==1.0: the package index cannot serve it for Python 3.11");
    expect(report).toContain("warning: runtime.txt asks for Python 3.8, but the servers run Python 3.11");
  });

  it("finds nothing wrong with a shape that deploys, and says where each fact came from", async () => {
    const { report, errors } = await checkProject(fixture("blog-subdir"), { base: "debootstrap:bookworm", log: silentLogger });
    expect(errors).toBe(0);
    expect(report).toContain("No problem found.");
    expect(report).toMatch(/manage\.py in\s+app\s+\(manage\.py found\)/);
    expect(report).toMatch(/health path\s+\/up\s+\(deploy-testbed\.toml\)/);
  });

  it("names a directory that is no Django project, and stops there", async () => {
    const { report, errors } = await checkProject(fileURLToPath(new URL("../../images/", import.meta.url)), { base: "debootstrap:bookworm", log: silentLogger });
    expect(errors).toBe(1);
    expect(report).toMatch(/error: .*no manage\.py here or two directories down; is this a Django project\?/);
  });
});
