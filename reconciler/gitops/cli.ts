// `xtrinode gitops sync` and `xtrinode diff`: thin shells over sync.ts / spec-diff.ts.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Command, Option } from "commander";
import { formatIssue, RenderError } from "../../renderer/index.ts";
import { createLogger } from "../../lib/logger.ts";
import { defaultGatewayNamespace } from "../../schemas/api/index.ts";
import { formatMarkdown, formatText } from "./diff-format.ts";
import { hasDifferences } from "./diff.ts";
import { DEFAULT_IDENTITY, describeSpecDir, gitAt, resolveRemote, withoutCredentials } from "./git.ts";
import { specDiff } from "./spec-diff.ts";
import { gitopsSync } from "./sync.ts";

interface SyncFlags {
  specs?: string;
  specRepo?: string;
  specRef?: string;
  specPath: string;
  target: string;
  branch: string;
  pathPrefix: string;
  push: boolean;
  policy?: string;
  maxRetries: string;
  gatewayNamespace: string;
  crds: boolean;
  allowEmpty: boolean;
  authorName: string;
  authorEmail: string;
}

export interface DiffFlags {
  base?: string;
  head?: string;
  specs: string;
  policy?: string;
  format: "text" | "markdown";
  gatewayNamespace: string;
  kubeconfig?: string;
  namespace?: string;
}

/** Every load/validation issue, one `error:` line each (file, document, kind/name, path, message). */
function describeError(error: unknown): string {
  if (error instanceof RenderError) return error.issues.map((issue) => `error: ${formatIssue(issue)}\n`).join("");
  return `error: ${(error as Error).message}\n`;
}

function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got "${value}"`);
  return n;
}

/** Clones a spec repository at a ref into a temporary directory (removed by the caller). */
async function cloneSpecRepo(url: string, ref: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "xtrinode-specs-"));
  const git = gitAt(dir);
  await git.init();
  await git.addRemote("origin", resolveRemote(url));
  await git.raw(["fetch", "--quiet", "--depth", "1", "origin", ref]);
  await git.raw(["checkout", "--quiet", "--detach", "FETCH_HEAD"]);
  return dir;
}

async function runSync(flags: SyncFlags): Promise<void> {
  if (!flags.specs === !flags.specRepo) throw new Error("give exactly one of --specs DIR or --spec-repo URL (with --spec-ref REF)");
  const log = createLogger("gitops", process.env.XTRINODE_LOG_LEVEL ?? "warn");
  let specRoot: string | undefined;
  try {
    let specs = flags.specs!;
    let source;
    if (flags.specRepo) {
      specRoot = await cloneSpecRepo(flags.specRepo, flags.specRef ?? "HEAD");
      specs = path.join(specRoot, flags.specPath);
      const found = await describeSpecDir(specs);
      source = { repo: withoutCredentials(flags.specRepo), commit: found.commit, path: found.path, dirty: false };
    }
    const result = await gitopsSync({
      specs,
      policyFile: flags.policy,
      target: flags.target,
      branch: flags.branch,
      prefix: flags.pathPrefix,
      push: flags.push,
      maxRetries: nonNegativeInt("--max-retries", flags.maxRetries),
      gatewayNamespace: flags.gatewayNamespace,
      crds: flags.crds,
      allowEmpty: flags.allowEmpty,
      identity: { name: flags.authorName, email: flags.authorEmail },
      source,
      log,
    });
    const { added, changed, removed, shared } = result.changes;
    process.stdout.write(
      JSON.stringify({
        event: result.committed ? "committed" : result.superseded ? "superseded" : result.message ? "dry-run" : "unchanged",
        commit: result.commit,
        superseded: result.superseded,
        pushed: result.pushed,
        retries: result.retries,
        added,
        changed,
        removed,
        shared,
      }) + "\n",
    );
    if (result.message && !result.committed) process.stderr.write(`would commit (use --push to commit and push):\n${result.message}`);
  } finally {
    if (specRoot) await rm(specRoot, { recursive: true, force: true });
  }
}

export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** `xtrinode diff`: exit code 0 no change, 1 changes, 2 error (as kubectl diff). */
export async function diffCommand(flags: DiffFlags): Promise<CommandOutput> {
  try {
    if (flags.kubeconfig) {
      const { clusterDiff } = await import("../apply-preview.ts");
      const result = await clusterDiff({
        kubeconfig: flags.kubeconfig,
        policy: flags.policy,
        gatewayNamespace: flags.gatewayNamespace,
        namespace: flags.namespace,
      });
      return { code: result.changed ? 1 : 0, stdout: result.text, stderr: "" };
    }
    if (!flags.base) throw new Error("--base REF is required (or --kubeconfig to diff against a cluster)");
    const diff = await specDiff({
      base: flags.base,
      head: flags.head,
      specs: flags.specs,
      policyFile: flags.policy,
      gatewayNamespace: flags.gatewayNamespace,
    });
    const labels = { base: flags.base, head: flags.head ?? "working tree" };
    return {
      code: hasDifferences(diff) ? 1 : 0,
      stdout: flags.format === "markdown" ? formatMarkdown(diff, labels) : formatText(diff, labels),
      stderr: "",
    };
  } catch (error) {
    return { code: 2, stdout: "", stderr: describeError(error) };
  }
}

export function registerGitOpsCommands(program: Command): void {
  const gitops = program.command("gitops").description("GitOps mode: render specs into a Git repository that Argo CD or Flux applies");
  gitops
    .command("sync")
    .description(
      "Render every runtime into --target's --branch; commit only when the rendered content changed; --push with retries on a concurrent sync",
    )
    .option("--specs <dir>", "spec directory (inside a Git work tree: its commit is recorded as the source)")
    .option("--spec-repo <url>", "spec repository to clone instead of --specs")
    .option("--spec-ref <ref>", "branch, tag or commit of --spec-repo", "HEAD")
    .option("--spec-path <path>", "spec directory inside --spec-repo", ".")
    .requiredOption("--target <repo>", "rendered repository: URL or path (bare, or with --branch not checked out there)")
    .requiredOption("--branch <branch>", "branch of the rendered repository")
    .option("--path-prefix <dir>", "directory inside the rendered repository (default: its root)", "")
    .option("--push", "commit and push (without it: report what would be committed)", false)
    .option("--policy <file>", "operator policy file (XTrinodePolicy)")
    .option("--max-retries <n>", "re-render and push again this many times when the push is rejected", "5")
    .option("--gateway-namespace <namespace>", "namespace of the gateway routes ConfigMap", defaultGatewayNamespace)
    .option("--no-crds", "leave out the XTrinode CRDs (_crds/)")
    .option("--allow-empty", "allow a spec set with no XTrinode (removes every runtime)", false)
    .option("--author-name <name>", "commit author and committer name", DEFAULT_IDENTITY.name)
    .option("--author-email <email>", "commit author and committer email", DEFAULT_IDENTITY.email)
    .action(async (flags: SyncFlags) => {
      try {
        await runSync(flags);
      } catch (error) {
        process.stderr.write(`${describeError(error)}nothing committed\n`);
        process.exitCode = 1;
      }
    });

  program
    .command("diff")
    .description("Show what a spec change does to the rendered objects, per runtime (exit 0: no change, 1: changes, 2: error)")
    .option("--base <ref>", "base revision of the spec repository (e.g. origin/main)")
    .option("--head <ref>", "head revision (default: the working tree)")
    .option("--specs <dir>", "spec directory inside the repository", ".")
    .option("--policy <file>", "operator policy file (XTrinodePolicy)")
    .addOption(new Option("--format <format>", "output format").choices(["text", "markdown"]).default("text"))
    .option("--gateway-namespace <namespace>", "namespace of the gateway routes ConfigMap", defaultGatewayNamespace)
    .option("--kubeconfig <file>", "diff the specs in the cluster against its live objects instead (like kubectl diff)")
    .option("--namespace <namespace>", "with --kubeconfig: only this namespace")
    .action(async (flags: DiffFlags) => {
      const result = await diffCommand(flags);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.code;
    });
}
