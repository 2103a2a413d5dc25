// Git I/O for the GitOps sink (simple-git): the work clone of the target, reading/writing the
// managed tree, commit, push, and reading spec files at a revision. Everything else is pure (tree.ts).
import { mkdir, realpath, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { isManagedPath, type Tree, type TreeChange } from "./tree.ts";

export interface GitIdentity {
  name: string;
  email: string;
}

export const DEFAULT_IDENTITY: GitIdentity = { name: "XTrinode GitOps", email: "xtrinode-gitops@xtrinode.io" };

const PASSED_ENV = [
  "PATH",
  "HOME",
  "LANG",
  "LC_ALL",
  "TMPDIR",
  "SSH_AUTH_SOCK",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "no_proxy",
];

/** A simple-git client whose commits do not depend on the machine's git config or environment. */
function gitEnv(identity: GitIdentity): Record<string, string> {
  // Only what git needs (HOME for credential helpers, SSH agent, proxies): no GIT_* from the caller,
  // and nothing simple-git refuses (EDITOR, PAGER…).
  const env: Record<string, string> = {};
  for (const key of PASSED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key]!;
  return Object.assign(env, {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_COMMITTER_NAME: identity.name,
    GIT_COMMITTER_EMAIL: identity.email,
    GIT_TERMINAL_PROMPT: "0",
  });
}

export function gitAt(dir: string, identity: GitIdentity = DEFAULT_IDENTITY): SimpleGit {
  return simpleGit({
    baseDir: dir,
    config: ["commit.gpgsign=false", "core.autocrlf=false", "core.quotepath=false", "gc.auto=0", "maintenance.auto=false"],
  }).env(gitEnv(identity));
}

/**
 * A remote as git would read it from the caller's directory: a local path (relative or not) becomes
 * absolute, since the remote is added inside a temporary repository; URLs (scheme://…) and scp-like
 * addresses (`[user@]host:path`, a colon before any slash) are returned unchanged.
 */
export function resolveRemote(remote: string, cwd: string = process.cwd()): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) return remote;
  const colon = remote.indexOf(":");
  const slash = remote.indexOf("/");
  if (colon > 0 && (slash < 0 || colon < slash)) return remote;
  return path.resolve(cwd, remote);
}

/** Sets up `dir` as an empty clone of `target` (nothing fetched or checked out yet); a local path is taken from the caller's cwd. */
export async function openWorkClone(dir: string, target: string, identity: GitIdentity): Promise<SimpleGit> {
  await mkdir(dir, { recursive: true });
  const git = gitAt(dir, identity);
  await git.init();
  await git.addRemote("origin", resolveRemote(target));
  return git;
}

/** Fetches the remote head of `branch` into refs/remotes/origin/<branch>; false when the remote has no such branch. */
export async function fetchBranch(git: SimpleGit, branch: string): Promise<boolean> {
  try {
    await git.raw(["fetch", "--quiet", "--no-tags", "origin", `+refs/heads/${branch}:refs/remotes/origin/${branch}`]);
    return true;
  } catch (error) {
    if (/couldn't find remote ref|could not find remote ref/i.test(String((error as Error).message))) return false;
    throw error;
  }
}

/** Git's blob id of a file content: compared with `ls-tree`, no file needs reading or checking out. */
export function blobId(content: string): string {
  const body = Buffer.from(content, "utf8");
  return createHash("sha1").update(`blob ${body.length}\0`).update(body).digest("hex");
}

/** Managed paths of a commit → blob ids (paths relative to the repository root). */
export async function readManagedBlobIds(git: SimpleGit, ref: string, prefix: string): Promise<Tree> {
  const out = await git.raw(["ls-tree", "-r", "-z", "--full-tree", ref, ...(prefix ? ["--", prefix] : [])]);
  const tree: Tree = new Map();
  for (const entry of out.split("\0")) {
    const tab = entry.indexOf("\t");
    if (tab < 0) continue;
    const [, type, id] = entry.slice(0, tab).split(" ");
    const file = entry.slice(tab + 1);
    if (type === "blob" && isManagedPath(file, prefix)) tree.set(file, id);
  }
  return tree;
}

/**
 * Writes one commit on `branch` with `git fast-import`: parent = `parent` (or none), the given files
 * written and deleted; no work tree or index (a 5,000-file render is one process and one pack).
 * Returns the commit id.
 */
export async function commitTreeChange(
  dir: string,
  identity: GitIdentity,
  branch: string,
  parent: string | null,
  change: TreeChange,
  message: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  const data = (text: string) => {
    const body = Buffer.from(text, "utf8");
    chunks.push(Buffer.from(`data ${body.length}\n`), body, Buffer.from("\n"));
  };
  const who = `${identity.name} <${identity.email}> ${Math.floor(Date.now() / 1000)} +0000`;
  // reset: the commit's parent is exactly `parent` (a root commit without one), whatever the local branch held.
  chunks.push(Buffer.from(`reset refs/heads/${branch}\ncommit refs/heads/${branch}\nauthor ${who}\ncommitter ${who}\n`));
  data(message);
  if (parent) chunks.push(Buffer.from(`from ${parent}\n`));
  for (const file of change.deletes) chunks.push(Buffer.from(`D ${quotePath(file)}\n`));
  for (const [file, content] of change.writes) {
    chunks.push(Buffer.from(`M 100644 inline ${quotePath(file)}\n`));
    data(content);
  }
  chunks.push(Buffer.from("done\n"));
  await new Promise<void>((resolve, reject) => {
    const child = spawn("git", ["-c", "gc.auto=0", "fast-import", "--quiet", "--force", "--done"], {
      cwd: dir,
      env: gitEnv(identity),
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed (${code}): ${stderr.trim()}`))));
    child.stdin.end(Buffer.concat(chunks));
  });
  return (await gitAt(dir, identity).revparse([`refs/heads/${branch}`])).trim();
}

/** fast-import path syntax: C-style quoted when it has special characters. */
function quotePath(file: string): string {
  return /^[^"\\\n ]+$/.test(file) ? file : JSON.stringify(file);
}

/** A file's content at a revision, or null when the revision has no such file. */
export async function readFileAt(git: SimpleGit, ref: string, file: string): Promise<string | null> {
  try {
    return await git.show([`${ref}:${file}`]);
  } catch {
    return null;
  }
}

/** The spec commit a rendered branch records in its metadata file, or null. */
export async function renderedSourceCommit(git: SimpleGit, ref: string, metadataPath: string): Promise<string | null> {
  let text: string;
  try {
    text = await git.show([`${ref}:${metadataPath}`]);
  } catch {
    return null; // no metadata yet
  }
  return /^ {2}commit: ([0-9a-f]{40})$/m.exec(text)?.[1] ?? null;
}

/** Whether `newer` strictly descends from `older` in the spec repository (false when either is unknown there). */
export async function descendsFrom(specRoot: string, newer: string, older: string): Promise<boolean> {
  if (newer === older) return false;
  try {
    // (`--is-ancestor` answers by exit code alone, which simple-git does not surface.)
    return (await gitAt(specRoot).raw(["merge-base", older, newer])).trim() === older;
  } catch {
    return false;
  }
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
    if (/non-fast-forward|fetch first|\[rejected\]|rejected|failed to update ref|cannot lock ref|stale info/i.test(text))
      throw new NonFastForwardError(text);
    throw error;
  }
}

/** The spec repository a directory belongs to: root, remote URL, HEAD commit, path inside, dirty. */
export async function describeSpecDir(
  dir: string,
): Promise<{ root: string | null; repo: string | null; commit: string | null; path: string; dirty: boolean }> {
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
  const rel =
    path
      .relative(root, await realpath(dir))
      .split(path.sep)
      .join("/") || ".";
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
