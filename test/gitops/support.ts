// Helpers of the GitOps tests: temporary Git repositories (a bare one as the remote), spec files, the CLI.
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gitAt } from "../../reconciler/gitops/git.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Temporary directories of one test file; `cleanup()` in an after hook removes them all. */
export function tempDirs() {
  const dirs: string[] = [];
  return {
    async make(label = "t"): Promise<string> {
      const dir = await mkdtemp(path.join(tmpdir(), `xtrinode-gitops-test-${label}-`));
      dirs.push(dir);
      return dir;
    },
    async cleanup(): Promise<void> {
      await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

export interface RuntimeFixture {
  namespace?: string;
  workers?: number;
  tag?: string;
  maxHeap?: string;
  suspended?: boolean;
  catalogs?: string[];
}

export function runtimeYaml(name: string, f: RuntimeFixture = {}): string {
  const lines = [
    "apiVersion: xtrinode.io/v1alpha1",
    "kind: XTrinode",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${f.namespace ?? "team-a"}`,
    "spec:",
  ];
  if (f.tag) lines.push("  image:", `    tag: "${f.tag}"`);
  if (f.maxHeap) lines.push("  coordinator:", `    jvm: { maxHeapSize: ${f.maxHeap} }`);
  lines.push("  workers:", "    mode: fixed", `    count: ${f.workers ?? 1}`);
  if (f.catalogs) lines.push("  catalogs:", `    names: [${f.catalogs.join(", ")}]`);
  if (f.suspended !== undefined) lines.push("  lifecycle:", `    suspended: ${f.suspended}`);
  return lines.join("\n") + "\n";
}

/** A catalog whose credentials are Secret references (the values live only in the Secret). */
export function secretCatalogYaml(name: string, namespace = "team-a"): string {
  return [
    "apiVersion: xtrinode.io/v1alpha1",
    "kind: XTrinodeCatalog",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    "spec:",
    "  connector: postgresql",
    "  properties:",
    "    connection-url: jdbc:postgresql://db.internal:5432/warehouse",
    "  secretProperties:",
    "    connection-user: { secretName: warehouse-db, key: username }",
    "    connection-password: { secretName: warehouse-db, key: password }",
    "",
  ].join("\n");
}

export async function writeSpec(dir: string, file: string, content: string): Promise<void> {
  await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
  await writeFile(path.join(dir, file), content);
}

export async function removeSpec(dir: string, file: string): Promise<void> {
  await unlink(path.join(dir, file));
}

/** Commits everything in a spec work tree; returns the commit id. */
export async function commitSpecs(dir: string, message: string): Promise<string> {
  const git = gitAt(dir, { name: "Spec Author", email: "author@example.com" });
  await git.raw(["add", "-A"]);
  await git.raw(["commit", "--quiet", "--allow-empty", "-m", message]);
  return (await git.revparse(["HEAD"])).trim();
}

export async function initRepo(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await gitAt(dir).raw(["init", "--quiet", "--initial-branch", "main"]);
}

export async function initBare(dir: string): Promise<string> {
  await gitAt(path.dirname(dir)).raw(["init", "--quiet", "--bare", "--initial-branch", "main", dir]);
  return dir;
}

/** Runs a git command in `dir` and returns stdout. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  return gitAt(dir).raw(args);
}

export async function commitCount(bare: string, branch = "main"): Promise<number> {
  try {
    return Number((await git(bare, "rev-list", "--count", branch)).trim());
  } catch {
    return 0; // branch absent
  }
}

/** Files changed by the last commit of `branch` in a repository. */
export async function filesOfLastCommit(bare: string, branch = "main"): Promise<string[]> {
  return (await git(bare, "show", "--name-only", "--format=", branch)).split("\n").filter(Boolean).sort();
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `xtrinode ARGS` as a child process (bounded by a timeout; the process always ends). */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(repoRoot, "bin", "xtrinode.ts"), ...args],
      {
        cwd: options.cwd ?? repoRoot,
        env: { ...process.env, XTRINODE_LOG_LEVEL: "warn", ...options.env },
        timeout: 30_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr }),
    );
  });
}
