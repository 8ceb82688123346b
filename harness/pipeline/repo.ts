import { execFile } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { applyChanges, type FixtureChanges } from "../domain/fixtures.ts";

const run = promisify(execFile);

/**
 * What is never copied from a project's directory into a repository of it: its own git metadata
 * (a user's repository has one), virtualenvs and caches.
 */
const NOT_COPIED = /(^|\/)(\.git|__pycache__|\.venv|node_modules|\.tox)(\/|$)/;
const copyFilter = (from: string) => (src: string) => !NOT_COPIED.test(src.slice(from.length));

/** A git repository of a Django project, as a user's would be, with branches to push. */
export class GitRepo implements AsyncDisposable {
  private constructor(readonly dir: string, private readonly root: string) {}

  /** A new repository of `projectDir` in `root` (a new temporary directory unless given). */
  static async fromDirectory(projectDir: string, branch = "master", root?: string): Promise<GitRepo> {
    root ??= await mkdtemp(join(tmpdir(), "ddt-repo-"));
    const dir = join(root, "myproject");
    await cp(projectDir, dir, { recursive: true, filter: copyFilter(projectDir) });
    const repo = new GitRepo(dir, root);
    await repo.git("init", "-q", "-b", branch);
    await repo.git("add", "-A");
    await repo.git("commit", "-q", "-m", "Initial commit");
    return repo;
  }

  /** The repository fromDirectory made in `root`, opened again (by another process). */
  static async open(root: string): Promise<GitRepo> {
    const repo = new GitRepo(join(root, "myproject"), root);
    await repo.git("rev-parse", "--git-dir");
    return repo;
  }

  /** Commits the whole of `projectDir` on `branch` as the new tree (files it lacks are deleted). */
  async commitTree(branch: string, message: string, projectDir: string): Promise<string> {
    await this.git("checkout", "-q", branch);
    await this.git("rm", "-rq", "--ignore-unmatch", ".");
    await cp(projectDir, this.dir, { recursive: true, filter: copyFilter(projectDir) });
    await this.git("add", "-A");
    await this.git("commit", "-q", "--allow-empty", "-m", message);
    return this.git("rev-parse", "HEAD");
  }

  async git(...args: string[]): Promise<string> {
    try {
      const { stdout } = await run("git", ["-c", "user.name=Testbed", "-c", "user.email=testbed@example.invalid", "-c", "commit.gpgsign=false", ...args], { cwd: this.dir });
      return stdout.trim();
    } catch (err) {
      throw new Error(`git ${args.join(" ")} in ${this.dir} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
    }
  }

  /** Points `name` at `from` (a no-op when they are the same branch). */
  async branch(name: string, from = "HEAD"): Promise<void> {
    if (name !== from) await this.git("branch", "-f", name, from);
  }

  /** Commits changes on `branch` (checked out, then left checked out). */
  async commit(branch: string, message: string, changes: FixtureChanges): Promise<string> {
    await this.git("checkout", "-q", branch);
    await applyChanges(this.dir, changes);
    await this.git("add", "-A");
    await this.git("commit", "-q", "-m", message);
    return this.git("rev-parse", "HEAD");
  }

  sha(ref: string): Promise<string> {
    return this.git("rev-parse", ref);
  }

  /** A fresh clone with `branch` checked out, as a runner's checkout would be. */
  async checkout(branch: string): Promise<{ dir: string; sha: string } & AsyncDisposable> {
    const root = await mkdtemp(join(tmpdir(), "ddt-checkout-"));
    const dir = join(root, "myproject");
    await run("git", ["clone", "-q", "--branch", branch, this.dir, dir]);
    const { stdout } = await run("git", ["rev-parse", "HEAD"], { cwd: dir });
    return { dir, sha: stdout.trim(), [Symbol.asyncDispose]: () => rm(root, { recursive: true, force: true }) };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
