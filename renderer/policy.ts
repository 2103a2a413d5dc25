// The operator policy: which rules apply to a namespace.
import type { NamespaceRules, XTrinodePolicy } from "../schemas/generated/types.ts";

export type { NamespaceRules };

/** Rules for a namespace: its own entry replaces the defaults (no merge); no policy → no rules. */
export function rulesFor(policy: XTrinodePolicy | undefined, namespace: string): NamespaceRules {
  if (!policy) return {};
  return policy.namespaces?.[namespace] ?? policy.defaults ?? {};
}

/** Where a rule came from, for messages: `policy namespaces.team-a.maxWorkers`. */
export function ruleName(policy: XTrinodePolicy | undefined, namespace: string, rule: keyof NamespaceRules): string {
  const scope = policy?.namespaces?.[namespace] ? `namespaces.${namespace}` : "defaults";
  return `policy ${scope}.${rule}`;
}

/**
 * The memory limit a container that sets none gets in the namespace: the LimitRange's default limit,
 * else its max (Kubernetes defaults a missing limit to the max).
 */
export function memoryLimitWithoutSpec(rules: NamespaceRules): string | number | undefined {
  return rules.defaultResources?.limits?.memory ?? rules.maxResources?.memory;
}
