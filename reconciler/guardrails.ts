// Namespace guardrails (ResourceQuota, LimitRange) that the policy no longer asks for are deleted.
// A runtime's reconcile only applies the guardrails the policy renders; this runs at each resync,
// right after the policy is reloaded, once per namespace that has runtimes (two list requests each).
import { guardrailsLabel } from "../schemas/api/index.ts";
import { objectKey } from "./diff.ts";
import type { ReconcileContext } from "./reconcile.ts";

const guardrailKinds = ["ResourceQuota", "LimitRange"] as const;

/** Deletes the namespace's guardrail objects (labelled xtrinode.io/guardrails) the policy does not render; returns their names. */
export async function pruneGuardrails(ctx: ReconcileContext, namespace: string): Promise<string[]> {
  const wanted = new Set(ctx.renderer.renderNamespace(namespace, ctx.policy()).map(objectKey));
  const deleted: string[] = [];
  for (const kind of guardrailKinds) {
    for (const live of await ctx.client.list("v1", kind, namespace, guardrailsLabel)) {
      if (wanted.has(objectKey(live))) continue;
      const name = live.metadata!.name!;
      await ctx.client.delete({ apiVersion: "v1", kind, namespace, name });
      ctx.log.info({ namespace, kind, name }, "deleted a namespace guardrail the policy no longer asks for");
      deleted.push(`${kind}/${name}`);
    }
  }
  return deleted;
}
