// Git I/O for the GitOps sink (simple-git): the work clone of the target, reading/writing the
// managed tree, commit, push, and reading spec files at a revision. Everything else is pure (tree.ts).
import { mkdir, readdir, readFile, realpath, rm, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { isManagedPath, type Tree, type TreeChange } from "./tree.ts";

export interface GitIdentity {
  name: string;
  email: string;
}

export const DEFAULT_IDENTITY: GitIdentity = { name: "XTrinode GitOps", email: "xtrinode-gitops@xtrinode.io" };

const PASSED_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSH_AUTH_SOCK", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"];

/** A simple-git client whose commits do not depend on the machine's git config or environment. */
export function gitAt(dir: string, identity: GitIdentity = DEFAULT_IDENTITY): SimpleGit {
  // Only what git needs (HOME for credential helpers, SSH agent, proxies): no GIT_* from the caller,
  // and nothing simple-git refuses (EDITOR, PAGER…).
  const env: Record<string, string> = {};
  for (const key of PASSED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key]!;
  Object.assign(env, {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_COMMITTER_NAME: identity.name,
    GIT_COMMITTER_EMAIL: identity.email,
    GIT_TERMINAL_PROMPT: "0",
  });
  return simpleGit({ baseDir: dir, config: ["commit.gpgsign=false", "core.autocrlf=false", "core.quotepath=false"] }).env(env);
}

/** Sets up `dir` as a clone of `target` on `branch` (an unborn branch when the remote has none). */
export async function openWorkClone(dir: string, target: string, branch: string, identity: GitIdentity): Promise<SimpleGit> {
  await mkdir(dir, { recursive: true });
  const git = gitAt(dir, identity);
  await git.init();
  await git.addRemote("origin", target);
  await syncToRemote(git, branch);
  return git;
}

/** Moves the work clone to the remote head of `branch` (fetch + forced checkout), dropping local work. */
export async function syncToRemote(git: SimpleGit, branch: string): Promise<void> {
  let exists = true;
  try {
    await git.raw(["fetch", "--quiet", "--no-tags", "origin", `+refs/heads/${branch}:refs/remotes/origin/${branch}`]);
  } catch (error) {
    if (!/couldn't find remote ref|could not find remote ref/i.test(String((error as Error).message))) throw error;
    exists = false; // the branch is created by our first push
  }
  if (exists) await git.raw(["checkout", "--quiet", "--force", "-B", branch, `refs/remotes/origin/${branch}`]);
  else await git.raw(["symbolic-ref", "HEAD", `refs/heads/${branch}`]);
  await git.raw(["clean", "-fdq"]);
}

/** The managed files of the work tree (paths relative to its root, "/" separators). */
export async function readManagedTree(root: string, prefix: string): Promise<Tree> {
  const tree: Tree = new Map();
  const start = prefix ? path.join(root, prefix) : root;
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name === ".git") continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const rel = path.relative(root, full).split(path.sep).join("/");
        if (isManagedPath(rel, prefix)) tree.set(rel, await readFile(full, "utf8"));
      }
    }
  }
  await walk(start);
  return tree;
}

/** Writes and deletes files in the work tree; removes directories left empty. */
export async function applyTreeChange(root: string, change: TreeChange): Promise<void> {
  for (const [file, content] of change.writes) {
    const full = path.join(root, file);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  for (const file of change.deletes) {
    await rm(path.join(root, file), { force: true });
    let dir = path.dirname(path.join(root, file));
    while (dir !== root && dir.startsWith(root)) {
      try {
        await rmdir(dir);
      } catch {
        break; // not empty
      }
      dir = path.dirname(dir);
    }
  }
}

/** Stages the managed paths and commits; returns the new commit id. */
export async function commitAll(git: SimpleGit, prefix: string, message: string): Promise<string> {
  await git.raw(["add", "-A", "--", prefix || "."]);
  await git.raw(["commit", "--quiet", "--no-verify", "-m", message]);
  return (await git.revparse(["HEAD"])).trim();
}

export class NonFastForwardError extends Error {}

/**
 * Pushes `branch`; false when the remote already had this very commit (an identical concurrent sync:
 * same parent, tree, author, message and second). A rejection because the remote moved becomes
 * NonFastForwardError (retryable).
 */
export async function pushBranch(git: SimpleGit, branch: string): Promise<boolean> {
  try {
    const out = await git.raw(["push", "--porcelain", "origin", `refs/heads/${branch}:refs/heads/${branch}`]);
    return !/^=\t/m.test(out);
  } catch (error) {
    const text = String((error as Error).message);
    if (/non-fast-forward|fetch first|\[rejected\]|rejected|failed to update ref|cannot lock ref|stale info/i.test(text)) throw new NonFastForwardError(text);
    throw error;
  }
}

/** The spec repository a directory belongs to: root, remote URL, HEAD commit, path inside, dirty. */
export async function describeSpecDir(dir: string): Promise<{ root: string | null; repo: string | null; commit: string | null; path: string; dirty: boolean }> {
  const git = gitAt(dir);
  let root: string;
  try {
    root = (await git.revparse(["--show-toplevel"])).trim();
  } catch {
    return { root: null, repo: null, commit: null, path: ".", dirty: false };
  }
  let commit: string | null = null;
  try {
    commit = (await git.revparse(["HEAD"])).trim();
  } catch {
    commit = null; // no commit yet
  }
  let repo: string | null = null;
  try {
    repo = withoutCredentials((await git.raw(["config", "--get", "remote.origin.url"])).trim()) || null;
  } catch {
    repo = null;
  }
  const rel = path.relative(root, await realpath(dir)).split(path.sep).join("/") || ".";
  const status = await git.raw(["status", "--porcelain", "--untracked-files=all", "--", "."]);
  return { root, repo, commit, path: rel, dirty: status.trim().length > 0 };
}

/** A repository URL without user:password@ (a token in a clone URL must not reach the rendered repo). */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

/**
 * Copies the files under `specPath` (relative to the repository root) as of `ref` into `outDir`,
 * keeping their relative paths; returns the directory holding them.
 */
export async function checkoutSpecsAt(repoRoot: string, ref: string, specPath: string, outDir: string): Promise<string> {
  const git = gitAt(repoRoot);
  const commit = (await git.revparse([`${ref}^{commit}`])).trim();
  const listing = await git.raw(["ls-tree", "-r", "-z", "--name-only", commit, "--", specPath === "." ? "." : specPath]);
  for (const file of listing.split("\0").filter(Boolean)) {
    if (!/\.(ya?ml|json)$/.test(file)) continue;
    const content = await git.show([`${commit}:${file}`]);
    const full = path.join(outDir, file);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  const dir = path.join(outDir, specPath);
  await mkdir(dir, { recursive: true });
  return dir;
}
