// Renders a spec directory at two revisions of its Git repository and diffs the rendered trees.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { RenderError, renderAll, SpecLoadError, type ValidationIssue } from "../../renderer/index.ts";
import { defaultGatewayNamespace } from "../../schemas/api/index.ts";
import { diffTrees, type RenderDiff } from "./diff.ts";
import { checkoutSpecsAt, describeSpecDir } from "./git.ts";
import { loadSpecSet } from "./sync.ts";
import { renderTree, type Tree } from "./tree.ts";

export interface SpecDiffOptions {
  /** Base revision (branch, tag, commit). */
  base: string;
  /** Head revision; default the working tree. */
  head?: string;
  /** Spec directory (inside a Git work tree). */
  specs: string;
  policyFile?: string;
  gatewayNamespace?: string;
}

/**
 * Renders the spec set found in `dir` into a tree (no CRDs: they do not depend on the specs). A set without
 * XTrinode is allowed here: a diff writes nothing, and "every runtime removed" (or a base before the first
 * runtime) is exactly what it should show.
 */
async function renderDir(dir: string, options: SpecDiffOptions): Promise<Tree> {
  const result = renderAll(await loadSpecSet(dir, options.policyFile), { allowEmpty: true });
  return renderTree(result, { prefix: "", gatewayNamespace: options.gatewayNamespace ?? defaultGatewayNamespace, crds: [] });
}

/** Errors found in a temporary checkout name `<ref>:<path in repo>` instead of the temporary path. */
function relabel(error: unknown, tmp: string, ref: string): unknown {
  const rename = (file: string) => (file.startsWith(tmp) ? `${ref}:${path.relative(tmp, file)}` : file);
  if (error instanceof RenderError)
    return new RenderError(error.issues.map((i: ValidationIssue) => (i.file ? { ...i, file: rename(i.file) } : i)));
  if (error instanceof SpecLoadError) {
    const prefix = `${error.file}${error.line !== undefined ? `:${error.line}` : ""}: `;
    return new SpecLoadError(rename(error.file), error.message.slice(prefix.length), error.line);
  }
  return error;
}

async function renderAtRef(root: string, ref: string, specPath: string, options: SpecDiffOptions): Promise<Tree> {
  const tmp = await mkdtemp(path.join(tmpdir(), "xtrinode-diff-"));
  try {
    const dir = await checkoutSpecsAt(root, ref, specPath, tmp);
    return await renderDir(dir, options);
  } catch (error) {
    throw relabel(error, tmp, ref);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export async function specDiff(options: SpecDiffOptions): Promise<RenderDiff> {
  const spec = await describeSpecDir(options.specs);
  if (!spec.root)
    throw new SpecLoadError(options.specs, "not inside a Git work tree (xtrinode diff compares revisions of a spec repository)");
  const base = await renderAtRef(spec.root, options.base, spec.path, options);
  const head = options.head ? await renderAtRef(spec.root, options.head, spec.path, options) : await renderDir(options.specs, options);
  return diffTrees(base, head);
}
