// `xtrinode gitops sync`: render a spec directory into the target repository's branch, commit only
// when the rendered content changed, push with bounded retries when another sync got there first.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Logger } from "../../lib/logger.ts";
import { silentLogger } from "../../lib/logger.ts";
import { loadPolicy, loadSpecs, renderAll, SpecLoadError, toYaml, type RenderAllResult, type SpecSet } from "../../renderer/index.ts";
import { defaultGatewayNamespace } from "../../schemas/api/index.ts";
import { crdFiles } from "../../schemas/crds.ts";
import {
  blobId,
  commitTreeChange,
  DEFAULT_IDENTITY,
  descendsFrom,
  describeSpecDir,
  fetchBranch,
  NonFastForwardError,
  openWorkClone,
  pushBranch,
  readFileAt,
  readManagedBlobIds,
  renderedSourceCommit,
  type GitIdentity,
} from "./git.ts";
import {
  commitMessage,
  hasChanges,
  KUSTOMIZATION_FILE,
  metadataFile,
  normalisePrefix,
  ownedTree,
  planTreeChange,
  recordedPaths,
  renderTree,
  runtimeChanges,
  type RuntimeChanges,
  type SourceInfo,
  type Tree,
} from "./tree.ts";

export interface SyncOptions {
  /** Spec directory (or file). */
  specs: string;
  policyFile?: string;
  /** Target repository: URL or path (bare, or a branch not checked out there). */
  target: string;
  branch: string;
  prefix?: string;
  /** Without push: render and compare only (nothing leaves the temporary clone). */
  push: boolean;
  /** Re-render-and-push attempts after a rejected push. */
  maxRetries?: number;
  gatewayNamespace?: string;
  crds?: boolean;
  /** Allow a spec set with no XTrinode (the sync then removes every runtime). */
  allowEmpty?: boolean;
  identity?: GitIdentity;
  /** Overrides what describeSpecDir finds (e.g. a spec repo cloned from a URL). */
  source?: SourceInfo;
  log?: Logger;
  /** Test seam: runs after the commit, before each push attempt. */
  beforePush?: (attempt: number) => Promise<void>;
}

export interface SyncResult {
  committed: boolean;
  pushed: boolean;
  commit: string | null;
  changes: RuntimeChanges;
  /** Push attempts that were rejected because the remote moved. */
  retries: number;
  message: string | null;
  /** Set when the branch already renders a newer spec commit (this one's descendant): nothing written. */
  superseded?: string;
}

export const XTRINODE_VERSION: string = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")).version;

/** Loads specs (and the policy file, if given); throws SpecLoadError / RenderError with every issue. */
export async function loadSpecSet(specs: string, policyFile?: string): Promise<SpecSet> {
  const set = await loadSpecs([specs]);
  if (policyFile) {
    if (set.policy) throw new SpecLoadError(policyFile, "--policy given, but the spec files already contain an XTrinodePolicy");
    set.policy = await loadPolicy(policyFile);
  }
  return set;
}

export function crdTreeFiles(): Array<{ file: string; content: string }> {
  return [...crdFiles(toYaml)].map(([file, content]) => ({ file, content }));
}

/** The desired tree (with metadata) for a render result. */
export function desiredTree(
  result: RenderAllResult,
  options: { prefix: string; gatewayNamespace: string; crds: boolean; source: SourceInfo },
): Tree {
  const tree = renderTree(result, {
    prefix: options.prefix,
    gatewayNamespace: options.gatewayNamespace,
    crds: options.crds ? crdTreeFiles() : [],
  });
  const [file, content] = metadataFile(
    options.prefix,
    { xtrinodeVersion: XTRINODE_VERSION, source: options.source },
    result.runtimes.length,
  );
  tree.set(file, content);
  return tree;
}

export async function gitopsSync(options: SyncOptions): Promise<SyncResult> {
  const log = options.log ?? silentLogger();
  const prefix = normalisePrefix(options.prefix);
  // Render first: invalid specs fail here, before the target is touched.
  // A set without any XTrinode (a wrong --specs path, a broken checkout) would remove every runtime: refused unless allowEmpty.
  const result = renderAll(await loadSpecSet(options.specs, options.policyFile), { allowEmpty: options.allowEmpty });
  const spec = await describeSpecDir(path.extname(options.specs) ? path.dirname(options.specs) : options.specs);
  const source = options.source ?? { repo: spec.repo, commit: spec.commit, path: spec.path, dirty: spec.dirty };
  const specRoot = spec.root;
  const desired = desiredTree(result, {
    prefix,
    gatewayNamespace: options.gatewayNamespace ?? defaultGatewayNamespace,
    crds: options.crds ?? true,
    source,
  });
  const maxRetries = options.maxRetries ?? 5;
  const work = await mkdtemp(path.join(tmpdir(), "xtrinode-gitops-"));
  try {
    const identity = options.identity ?? DEFAULT_IDENTITY;
    const git = await openWorkClone(work, options.target, identity);
    const metadataPath = metadataFile(prefix, { xtrinodeVersion: XTRINODE_VERSION, source }, 0)[0];
    const kustomizationPath = prefix ? path.posix.join(prefix, KUSTOMIZATION_FILE) : KUSTOMIZATION_FILE;
    const desiredIds = new Map([...desired].map(([file, content]) => [file, blobId(content)]));
    for (let attempt = 0; ; attempt++) {
      // Planned against the current remote head on every attempt: a concurrent sync's commit is the new base.
      const exists = await fetchBranch(git, options.branch);
      const ref = `refs/remotes/origin/${options.branch}`;
      const found = exists ? await readManagedBlobIds(git, ref, prefix) : new Map<string, string>();
      // Deleted are only files the previous render recorded writing (not every path of the layout's shape:
      // argocd/apps/application.yaml, another prefix's clusters/b/kustomization.yaml…).
      const stray = [...found.keys()].some((file) => !desiredIds.has(file));
      const recorded = stray
        ? recordedPaths(await readFileAt(git, ref, metadataPath), await readFileAt(git, ref, kustomizationPath), prefix)
        : null;
      const existing = ownedTree(found, desiredIds, recorded);
      // A render of a newer spec commit is never replaced by one of its ancestors (a late CI job).
      const rendered =
        exists && source.commit && specRoot ? await renderedSourceCommit(git, `refs/remotes/origin/${options.branch}`, metadataPath) : null;
      if (rendered && specRoot && (await descendsFrom(specRoot, rendered, source.commit!))) {
        log.warn(
          { event: "gitops-sync-superseded", rendered, source: source.commit },
          "the branch already renders a newer spec commit; nothing to do",
        );
        return {
          committed: false,
          pushed: false,
          commit: null,
          changes: runtimeChanges(existing, existing, prefix),
          retries: attempt,
          message: null,
          superseded: rendered,
        };
      }
      const changes = runtimeChanges(existing, desiredIds, prefix);
      if (!hasChanges(changes)) {
        log.info(
          { event: "gitops-sync-noop", target: options.target, branch: options.branch, attempt },
          "rendered content unchanged; nothing to commit",
        );
        return { committed: false, pushed: false, commit: null, changes, retries: attempt, message: null };
      }
      const message = commitMessage(changes, source);
      if (!options.push) {
        log.info({ event: "gitops-sync-dry-run", changes }, "changes found; --push not given, nothing pushed");
        return { committed: false, pushed: false, commit: null, changes, retries: attempt, message };
      }
      const plan = planTreeChange(existing, desiredIds);
      const parent = exists ? (await git.revparse([`refs/remotes/origin/${options.branch}`])).trim() : null;
      const commit = await commitTreeChange(
        work,
        identity,
        options.branch,
        parent,
        { writes: plan.writes.map(([file]) => [file, desired.get(file)!]), deletes: plan.deletes },
        message,
      );
      await options.beforePush?.(attempt);
      try {
        if (!(await pushBranch(git, options.branch))) {
          log.info({ event: "gitops-sync-noop", commit, attempt }, "an identical sync already pushed this commit");
          return { committed: false, pushed: false, commit: null, changes, retries: attempt, message: null };
        }
        log.info({ event: "gitops-sync-pushed", commit, changes, retries: attempt }, "rendered tree pushed");
        return { committed: true, pushed: true, commit, changes, retries: attempt, message };
      } catch (error) {
        if (!(error instanceof NonFastForwardError) || attempt >= maxRetries) throw error;
        log.warn({ event: "gitops-sync-retry", attempt: attempt + 1 }, "push rejected (the remote moved); re-planning on the new head");
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 5 });
  }
}
