// Namespace guardrails (ResourceQuota, LimitRange) that the policy no longer asks for are deleted.
// A runtime's reconcile only applies the guardrails the policy renders; this runs at each resync,
// right after the policy is reloaded, once per namespace that has runtimes (reading the guardrails
// from the informer cache in the controller, else two list requests).
import { objectKey } from "./apply-decision.ts";
import type { ReconcileContext } from "./reconcile.ts";

/** Deletes the namespace's guardrail objects (labelled xtrinode.io/guardrails) the policy does not render; returns their names. */
export async function pruneGuardrails(ctx: ReconcileContext, namespace: string): Promise<string[]> {
  const wanted = new Set(ctx.renderer.renderNamespace(namespace, ctx.policy()).map(objectKey));
  const deleted: string[] = [];
  for (const live of await ctx.reader.guardrails(namespace)) {
    const { apiVersion, kind, metadata } = live;
    if (wanted.has(objectKey(live)) || !apiVersion || !kind || !metadata?.name) continue;
    await ctx.client.delete({ apiVersion, kind, namespace, name: metadata.name });
    ctx.log.info({ namespace, kind, name: metadata.name }, "deleted a namespace guardrail the policy no longer asks for");
    deleted.push(`${kind}/${metadata.name}`);
  }
  return deleted;
}
