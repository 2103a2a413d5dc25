// Shapes shared by the renderer modules and its users (operator, GitOps, CLI).
// Spec types come from schemas/generated/types.ts; these are the renderer's own outputs.
import type { XTrinode, XTrinodeCatalog, XTrinodePolicy, RouteEntry, GatewayRoutes } from "../schemas/generated/types.ts";

export type { XTrinode, XTrinodeCatalog, XTrinodePolicy, RouteEntry, GatewayRoutes };

/** A rendered Kubernetes object (plain JSON, ready to apply). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Helm values for the Trino chart (plus the `xtrinode` extension key); see schemas/values.schema.json. */
export type HelmValues = Record<string, unknown>;

/** A Secret key a runtime reads through an env var (never the value). */
export interface SecretRef {
  secretName: string;
  key: string;
  env: string;
  catalog: string;
  property: string;
}

export interface RenderedRuntime {
  namespace: string;
  name: string;
  values: HelmValues;
  /** Kubernetes objects in apply order (node pool first, autoscalers last). */
  objects: KubeObject[];
  /** The gateway route entry, without `state` (the operator/GitOps decides it). */
  route: Omit<RouteEntry, "state">;
  /** Names (metadata.name) of the XTrinodeCatalogs selected, sorted. */
  catalogs: string[];
  secretRefs: SecretRef[];
}

export interface RenderRuntimeInput {
  runtime: XTrinode;
  /** All XTrinodeCatalogs of the runtime's namespace; the renderer selects. */
  catalogs: XTrinodeCatalog[];
  policy?: XTrinodePolicy;
  /** Overrides spec.lifecycle.suspended (the operator's idle decision). */
  suspended?: boolean;
}

/** Where a spec document came from, for error messages. */
export interface SpecSource {
  file: string;
  /** 0-based index of the document inside its file. */
  document: number;
  /** 1-based line where the document starts. */
  line: number;
}

export interface SpecSet {
  runtimes: XTrinode[];
  catalogs: XTrinodeCatalog[];
  policy?: XTrinodePolicy;
  /** Source of each loaded document (keyed by the document object itself). */
  sources: Map<object, SpecSource>;
  /** Spec files read (loadSpecs), including those without documents; for messages about the whole set. */
  files?: string[];
}

export interface ValidationIssue {
  file?: string;
  document?: number;
  kind?: string;
  name?: string;
  /** Dotted field path inside the document ("" for the document itself). */
  path: string;
  message: string;
}

export interface NamespaceRender {
  namespace: string;
  objects: KubeObject[];
}

export interface RenderAllResult {
  runtimes: RenderedRuntime[];
  namespaces: NamespaceRender[];
  /** The routes document (schemas/routes.schema.json): suspended → PAUSED, else RUNNING. */
  routes: GatewayRoutes;
  /** Every object in apply order: namespace guardrails, then each runtime (sorted by namespace/name). */
  objects: KubeObject[];
}

/** Thrown when input fails validation; carries every issue. */
export class RenderError extends Error {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[]) {
    super(formatIssues(issues));
    this.name = "RenderError";
    this.issues = issues;
  }
}

/** One line per issue: `file#doc Kind/name: path: message`. */
export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map(formatIssue).join("\n");
}

export function formatIssue(issue: ValidationIssue): string {
  const where = [
    issue.file ? `${issue.file}${issue.document !== undefined ? `#${issue.document}` : ""}` : undefined,
    issue.kind || issue.name ? `${issue.kind ?? "?"}/${issue.name ?? "?"}` : undefined,
  ].filter(Boolean);
  const field = issue.path ? `${issue.path}: ` : "";
  return `${where.length ? `${where.join(" ")}: ` : ""}${field}${issue.message}`;
}
