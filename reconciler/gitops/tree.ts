// The rendered ("hydrated") repository tree: pure functions from a renderAll result to file
// contents, and the difference between two trees. No Git, no file system.
//
// Layout under the path prefix P (docs in reconciler/gitops/README.md):
//   P/kustomization.yaml                         every manifest below, sorted (Argo CD / Flux entry point)
//   P/xtrinode-gitops.yaml                       metadata: source repo/commit, XTrinode version (not applied)
//   P/_crds/<file>.yaml                          the XTrinode CRDs
//   P/_gateway/configmap-trino-gateway-routes.yaml
//   P/<namespace>/_namespace/<kind>-<name>.yaml  namespace guardrails (ResourceQuota, LimitRange)
//   P/<namespace>/<runtime>/values.yaml          Helm values of the runtime
//   P/<namespace>/<runtime>/<kind>-<name>.yaml   one file per rendered object
// Names starting with "_" cannot be Kubernetes namespaces or runtimes (DNS labels), so they never collide.
import path from "node:path/posix";
import yaml from "js-yaml";
import { apiVersion, dns1123LabelPattern, kinds } from "../../schemas/api/index.ts";
import { routesConfigMap, toYaml, type KubeObject, type RenderAllResult } from "../../renderer/index.ts";

/** Path → file content. */
export type Tree = Map<string, string>;

export const METADATA_FILE = "xtrinode-gitops.yaml";
export const KUSTOMIZATION_FILE = "kustomization.yaml";
const CRDS_DIR = "_crds";
const GATEWAY_DIR = "_gateway";
const NAMESPACE_DIR = "_namespace";

export interface TreeOptions {
  /** Directory inside the target repo ("" = repository root). */
  prefix: string;
  gatewayNamespace: string;
  /** CRD files to include (file name → YAML). */
  crds: Array<{ file: string; content: string }>;
}

export interface SourceInfo {
  /** Spec repository (remote URL), or null when the specs are not in a Git repository with a remote. */
  repo: string | null;
  /** The spec ("dry") commit, or null outside Git. */
  commit: string | null;
  /** Spec directory inside the spec repository. */
  path: string;
  /** True when the spec directory had uncommitted changes. */
  dirty: boolean;
}

export interface Metadata {
  xtrinodeVersion: string;
  source: SourceInfo;
}

/** Normalises a user-given prefix: no leading/trailing slashes, "" for the root. */
export function normalisePrefix(prefix: string | undefined): string {
  // Normalised from "/", so ".." cannot climb out of the repository.
  return path.normalize(`/${prefix ?? ""}`).replace(/^\/+|\/+$/g, "");
}

function join(prefix: string, ...parts: string[]): string {
  return prefix ? path.join(prefix, ...parts) : path.join(...parts);
}

export function objectFile(object: KubeObject): string {
  return `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`;
}

/** Refuses anything that could carry a secret value: Secrets are never rendered into Git. */
function assertNoSecret(object: KubeObject): void {
  if (object.kind === "Secret") throw new Error(`refusing to write Secret ${object.metadata.namespace}/${object.metadata.name} to Git`);
}

/** The whole rendered tree except the metadata file (the part whose change warrants a commit). */
export function renderTree(result: RenderAllResult, options: TreeOptions): Tree {
  const files: Array<[string, string]> = [];
  const p = options.prefix;
  for (const crd of options.crds) files.push([join(p, CRDS_DIR, crd.file), crd.content]);
  files.push([
    join(p, GATEWAY_DIR, objectFile(routesConfigMap(result.routes, options.gatewayNamespace))),
    toYaml(routesConfigMap(result.routes, options.gatewayNamespace)),
  ]);
  for (const ns of result.namespaces) {
    for (const object of ns.objects) {
      assertNoSecret(object);
      files.push([join(p, ns.namespace, NAMESPACE_DIR, objectFile(object)), toYaml(object)]);
    }
  }
  for (const runtime of result.runtimes) {
    const dir = join(p, runtime.namespace, runtime.name);
    files.push([path.join(dir, "values.yaml"), toYaml(runtime.values)]);
    for (const object of runtime.objects) {
      assertNoSecret(object);
      files.push([path.join(dir, objectFile(object)), toYaml(object)]);
    }
  }
  const manifests = files
    .map(([file]) => (p ? path.relative(p, file) : file))
    .filter((file) => path.basename(file) !== "values.yaml")
    .sort();
  files.push([
    join(p, KUSTOMIZATION_FILE),
    toYaml({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: manifests }),
  ]);
  const tree: Tree = new Map();
  for (const [file, content] of files) {
    if (tree.has(file)) throw new Error(`two rendered files map to ${file}`);
    tree.set(file, content);
  }
  return tree;
}

/** The metadata file: deterministic (no timestamps), so an unchanged render has identical bytes. */
export function metadataFile(prefix: string, metadata: Metadata, runtimes: number): [string, string] {
  const doc = {
    apiVersion,
    kind: kinds.gitopsRender,
    xtrinodeVersion: metadata.xtrinodeVersion,
    source: metadata.source,
    runtimes,
  };
  return [
    join(prefix, METADATA_FILE),
    `# Written by \`xtrinode gitops sync\`; not a Kubernetes object (not listed in ${KUSTOMIZATION_FILE}).\n${toYaml(doc)}`,
  ];
}

/**
 * Whether a path (relative to the repository root) has a shape of the layout above, under the prefix.
 * Anything else (README.md, .github/, docs/…) is left alone. A path of such a shape is still deleted
 * only when the previous render recorded it (recordedPaths): `argocd/apps/application.yaml` has the
 * shape of a runtime file but is not XTrinode's.
 */
export function isManagedPath(file: string, prefix: string): boolean {
  const rel = prefix ? (file.startsWith(`${prefix}/`) ? file.slice(prefix.length + 1) : null) : file;
  if (rel === null) return false;
  const parts = rel.split("/");
  if (parts.length === 1) return parts[0] === METADATA_FILE || parts[0] === KUSTOMIZATION_FILE;
  if (parts.length === 2) return parts[0] === CRDS_DIR || parts[0] === GATEWAY_DIR;
  return (
    parts.length === 3 &&
    dns1123LabelPattern.test(parts[0]) &&
    (dns1123LabelPattern.test(parts[1]) || parts[1] === NAMESPACE_DIR) &&
    parts[2].endsWith(".yaml")
  );
}

/**
 * The paths (relative to the repository root) the previous render under the prefix wrote, read from
 * what that render left: its kustomization.yaml lists every manifest, and each runtime directory listed
 * there also holds a values.yaml. Null — nothing may be deleted — unless both files exist and are
 * XTrinode's (the metadata file a GitOpsRender, the kustomization a Kustomization with a resources list):
 * a repository XTrinode never rendered into, or whose record was hand-edited beyond recognition, keeps
 * every file.
 */
export function recordedPaths(metadata: string | null, kustomization: string | null, prefix: string): Set<string> | null {
  if (metadata === null || kustomization === null) return null;
  let meta: unknown;
  let kust: unknown;
  try {
    meta = yaml.load(metadata);
    kust = yaml.load(kustomization);
  } catch {
    return null;
  }
  if ((meta as { kind?: unknown } | null)?.kind !== "GitOpsRender") return null;
  const resources =
    (kust as { kind?: unknown; resources?: unknown } | null)?.kind === "Kustomization"
      ? (kust as { resources?: unknown }).resources
      : undefined;
  if (!Array.isArray(resources)) return null;
  const recorded = new Set([join(prefix, METADATA_FILE), join(prefix, KUSTOMIZATION_FILE)]);
  for (const entry of resources) {
    if (typeof entry !== "string") continue;
    const file = join(prefix, entry);
    // Only the layout's shapes: an entry pointing elsewhere (another prefix, "../x") is never deleted.
    if (!isManagedPath(file, prefix)) continue;
    recorded.add(file);
    if (runtimeOf(file, prefix)) recorded.add(path.join(path.dirname(file), "values.yaml"));
  }
  return recorded;
}

/**
 * The part of the existing tree the sync owns: files it is about to write (compared by content) and
 * files the previous render recorded (deleted when no longer desired). Everything else is left alone.
 */
export function ownedTree(existing: Tree, desired: Tree, recorded: Set<string> | null): Tree {
  return new Map([...existing].filter(([file]) => desired.has(file) || (recorded?.has(file) ?? false)));
}

/** Namespace/runtime a path belongs to, or null for shared files (CRDs, routes, guardrails, kustomization, metadata). */
export function runtimeOf(file: string, prefix: string): string | null {
  const rel = prefix ? file.slice(prefix.length + 1) : file;
  const parts = rel.split("/");
  if (parts.length !== 3 || parts[0].startsWith("_") || parts[1].startsWith("_")) return null;
  return `${parts[0]}/${parts[1]}`;
}

export interface TreeChange {
  /** Files to create or overwrite, sorted by path. */
  writes: Array<[string, string]>;
  /** Files to delete, sorted. */
  deletes: string[];
}

/** What turns `existing` into `desired` (both limited to managed paths). */
export function planTreeChange(existing: Tree, desired: Tree): TreeChange {
  const writes = [...desired].filter(([file, content]) => existing.get(file) !== content).sort(([a], [b]) => compareStrings(a, b));
  const deletes = [...existing.keys()].filter((file) => !desired.has(file)).sort(compareStrings);
  return { writes, deletes };
}

export interface RuntimeChanges {
  added: string[];
  changed: string[];
  removed: string[];
  /** Shared files (routes, guardrails, CRDs, kustomization) that changed. */
  shared: string[];
}

/** Runtimes added/changed/removed between two trees, from which files differ. */
export function runtimeChanges(existing: Tree, desired: Tree, prefix: string): RuntimeChanges {
  const runtimesIn = (tree: Tree) => new Set([...tree.keys()].map((f) => runtimeOf(f, prefix)).filter((r): r is string => r !== null));
  const before = runtimesIn(existing);
  const after = runtimesIn(desired);
  const { writes, deletes } = planTreeChange(existing, desired);
  const touched = new Set<string>();
  const shared = new Set<string>();
  for (const file of [...writes.map(([f]) => f), ...deletes]) {
    const runtime = runtimeOf(file, prefix);
    if (runtime) touched.add(runtime);
    else if (!file.endsWith(`/${METADATA_FILE}`) && file !== METADATA_FILE) shared.add(file);
  }
  const sorted = (items: Iterable<string>) => [...items].sort(compareStrings);
  return {
    added: sorted([...after].filter((r) => !before.has(r))),
    changed: sorted([...touched].filter((r) => before.has(r) && after.has(r))),
    removed: sorted([...before].filter((r) => !after.has(r))),
    shared: sorted(shared),
  };
}

export function hasChanges(changes: RuntimeChanges): boolean {
  return changes.added.length + changes.changed.length + changes.removed.length + changes.shared.length > 0;
}

/** Commit message: a summary line, then the runtimes per change and the source commit. */
export function commitMessage(changes: RuntimeChanges, source: SourceInfo): string {
  const counts = [
    changes.added.length ? `${changes.added.length} added` : "",
    changes.changed.length ? `${changes.changed.length} changed` : "",
    changes.removed.length ? `${changes.removed.length} removed` : "",
  ].filter(Boolean);
  const sourceText = source.commit ? `${source.commit.slice(0, 12)}${source.dirty ? " (dirty)" : ""}` : "uncommitted specs";
  const lines = [`xtrinode: render ${counts.length ? counts.join(", ") : "shared objects"} from ${sourceText}`, ""];
  for (const [label, items] of [
    ["Added", changes.added],
    ["Changed", changes.changed],
    ["Removed", changes.removed],
  ] as const) {
    if (items.length) lines.push(`${label}:`, ...items.map((r) => `  - ${r}`), "");
  }
  if (changes.shared.length) lines.push("Shared files:", ...changes.shared.map((f) => `  - ${f}`), "");
  lines.push(
    `Source-Repo: ${source.repo ?? "(none)"}`,
    `Source-Commit: ${source.commit ?? "(none)"}${source.dirty ? " (dirty)" : ""}`,
    `Source-Path: ${source.path}`,
  );
  return lines.join("\n") + "\n";
}

/** Byte order (not locale): the same order on every machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
