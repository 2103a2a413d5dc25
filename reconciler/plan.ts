// Steps 2 and 3 of a reconcile (reconcile.ts): validate the runtime once against what was read,
// keeping the values built for the checks, then build every desired object from them. Apart from
// resolving Secret references through the reader (the informer cache in the controller), pure.
// `xtrinode diff` plans with the same functions.
import { RenderError, type CheckedRuntime } from "../renderer/index.ts";
import type { RenderedRuntime, XTrinode, XTrinodeCatalog, XTrinodePolicy } from "../renderer/types.ts";
import type { XTrinodeStatus } from "../schemas/generated/types.ts";
import { releaseAutoscaledReplicas } from "./apply.ts";
import { hasSecretKey } from "./catalog-status.ts";
import type { ClusterReader } from "./cluster-reader.ts";
import { annotations, apiVersion } from "../schemas/api/index.ts";
import type { KubeObject } from "./apply-decision.ts";
import { parseDurationMs } from "./duration.ts";
import { describeError } from "./kube-client.ts";
import { decideIntent, type Intent, type LifecycleTimers } from "./lifecycle-decisions.ts";
import type { ConditionInput } from "./status.ts";
import { StopReconcile } from "./stop-reconcile.ts";

export interface RendererPort {
  /** Validates a runtime with its namespace's catalogs and the policy; throws RenderError listing every issue. */
  checkRuntime(input: { runtime: XTrinode; catalogs: XTrinodeCatalog[]; policy: XTrinodePolicy | undefined }): CheckedRuntime;
  /** Renders a checked runtime (suspended: compute at zero replicas). */
  renderCheckedRuntime(checked: CheckedRuntime, suspended: boolean): RenderedRuntime;
  /** Namespace guardrail objects (ResourceQuota, LimitRange) for a namespace. */
  renderNamespace(namespace: string, policy: XTrinodePolicy | undefined): Array<{ apiVersion: string; kind: string }>;
}

/** A runtime that passed validation: its spec document and what rendering it needs. */
export interface ValidRuntime {
  spec: XTrinode;
  checked: CheckedRuntime;
  /** CatalogsResolved True, naming the selected catalogs. */
  condition: ConditionInput;
  /** Secrets the runtime references (namespace/name), so Secret changes can requeue it. */
  secretNames: string[];
}

/**
 * Step 2, validate: the spec, its catalogs and the policy (the renderer's checks, once; the values
 * built for them are kept for step 3). Throws StopReconcile (InvalidSpec, CatalogNotFound). Pure.
 */
export function validateRuntime(
  ctx: { renderer: RendererPort },
  runtime: KubeObject,
  catalogs: XTrinodeCatalog[],
  policy: XTrinodePolicy | undefined,
): ValidRuntime {
  const spec = specDocument(runtime);
  let checked: CheckedRuntime;
  try {
    checked = ctx.renderer.checkRuntime({ runtime: spec, catalogs, policy });
  } catch (error) {
    throw invalid(spec, error);
  }
  return {
    spec,
    checked,
    condition: { type: "CatalogsResolved", status: "True", reason: "Resolved", message: catalogNames(checked) },
    secretNames: [...new Set(checked.built.secretRefs.map((r) => `${spec.metadata.namespace}/${r.secretName}`))],
  };
}

function catalogNames(checked: CheckedRuntime): string {
  return checked.catalogs.length ? checked.catalogs.join(", ") : "no catalogs selected";
}

/** The XTrinode as the renderer validates it: the live object without server-populated metadata. */
function specDocument(runtime: KubeObject): XTrinode {
  const metadata = runtime.metadata ?? {};
  return {
    apiVersion: runtime.apiVersion,
    kind: runtime.kind,
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      ...(metadata.labels ? { labels: metadata.labels } : {}),
      ...(metadata.annotations ? { annotations: metadata.annotations } : {}),
    },
    spec: runtime.spec ?? {},
  } as unknown as XTrinode;
}

/** The renderer's issues as a StopReconcile: CatalogNotFound when a named catalog is missing, else InvalidSpec. */
function invalid(spec: XTrinode, error: unknown): StopReconcile {
  const namespace = spec.metadata.namespace;
  const names = spec.spec.catalogs?.names ?? [];
  const missing =
    error instanceof RenderError
      ? error.issues
          .flatMap((i) => (i.kind === "XTrinode" ? [/^spec\.catalogs\.names\[(\d+)\]$/.exec(i.path)] : []))
          .flatMap((m) => (m ? [names[Number(m[1])]] : []))
      : [];
  if (missing.length) {
    return new StopReconcile(
      "CatalogNotFound",
      `spec.catalogs.names: XTrinodeCatalog ${missing.map((m) => `${namespace}/${m}`).join(", ")} not found; create it or remove the name from spec.catalogs.names`,
      [{ type: "CatalogsResolved", status: "False", reason: "CatalogNotFound", message: `missing: ${missing.join(", ")}` }],
    );
  }
  return new StopReconcile("InvalidSpec", `${describeError(error)}; fix the XTrinode spec (or the policy) and the operator retries`, []);
}

/** Step 2, validate (continued): every Secret key the selected catalogs reference exists. Throws StopReconcile SecretNotFound. */
export async function resolveSecrets(reader: Pick<ClusterReader, "secret">, valid: ValidRuntime): Promise<ConditionInput> {
  const namespace = valid.spec.metadata.namespace ?? "";
  const problems: string[] = [];
  const secrets = new Map<string, KubeObject | undefined>();
  for (const ref of valid.checked.built.secretRefs) {
    if (!secrets.has(ref.secretName)) secrets.set(ref.secretName, await reader.secret(namespace, ref.secretName));
    const secret = secrets.get(ref.secretName);
    const where = `catalog ${ref.catalog} property ${ref.property}`;
    if (!secret) problems.push(`Secret ${namespace}/${ref.secretName} not found (${where}): create it`);
    else if (!hasSecretKey(secret, ref.key))
      problems.push(`Secret ${namespace}/${ref.secretName} has no key "${ref.key}" (${where}): add the key`);
  }
  if (problems.length) {
    const message = problems.join("; ");
    throw new StopReconcile("SecretNotFound", message, [{ type: "SecretsResolved", status: "False", reason: "SecretNotFound", message }]);
  }
  return { type: "SecretsResolved", status: "True", reason: "Resolved", message: `${secrets.size} secret(s) referenced` };
}

/** What the runtime should look like now (step 3, build). */
export interface DesiredState {
  intent: Intent;
  rendered: RenderedRuntime;
  /** Namespace guardrails (shared by the runtimes of the namespace). */
  guardrails: KubeObject[];
  /** The runtime's objects as they will be applied (owner references set, autoscaled replicas released). */
  objects: KubeObject[];
  /** The runtime's annotations (gateway activity, resume requests). */
  annotations: Record<string, string>;
}

/** Step 3, build: the lifecycle intent at `now`, and every desired object. Pure. */
export function buildDesired(
  ctx: { renderer: RendererPort; timers: LifecycleTimers },
  runtime: KubeObject,
  valid: ValidRuntime,
  policy: XTrinodePolicy | undefined,
  now: Date,
): DesiredState {
  const { spec } = valid;
  const runtimeAnnotations = (runtime.metadata?.annotations ?? {}) as Record<string, string>;
  const intent = decideIntent({
    now,
    suspendedIntent: spec.spec.lifecycle?.suspended === true,
    wakeTTLMs: spec.spec.lifecycle?.wakeTTL ? parseDurationMs(spec.spec.lifecycle.wakeTTL) : undefined,
    lastActivity: runtimeAnnotations[annotations.lastActivity],
    resumeRequestedAt: runtimeAnnotations[annotations.resumeRequestedAt],
    status: (runtime.status ?? {}) as XTrinodeStatus,
    timers: ctx.timers,
  });
  const rendered = ctx.renderer.renderCheckedRuntime(valid.checked, intent.scaleToZero);
  const guardrails = ctx.renderer.renderNamespace(spec.metadata.namespace ?? "", policy) as KubeObject[];
  const objects = releaseAutoscaledReplicas(withOwner(rendered.objects as KubeObject[], runtime));
  return { intent, rendered, guardrails, objects, annotations: runtimeAnnotations };
}

/** ownerReferences to the XTrinode, so the API server's garbage collector also cleans up. */
function withOwner(objects: KubeObject[], runtime: KubeObject): KubeObject[] {
  const uid = runtime.metadata?.uid;
  const name = runtime.metadata?.name;
  if (!uid || !name) return objects;
  const owner = { apiVersion, kind: "XTrinode", name, uid, controller: true, blockOwnerDeletion: true };
  return objects.map((object) => ({ ...object, metadata: { ...object.metadata, ownerReferences: [owner] } }));
}
