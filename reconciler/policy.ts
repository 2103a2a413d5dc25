// Where the operator's XTrinodePolicy comes from: a file (--policy FILE) or, in-cluster, the
// ConfigMap xtrinode-policy in xtrinode-system (data key policy.yaml). No policy: renderer defaults.
import { loadPolicy, parseDocuments } from "../renderer/index.ts";
import type { XTrinodePolicy } from "../renderer/types.ts";
import { validateAgainstSchema } from "../schemas/validate.ts";
import { policyConfigMapName, policyDataKey } from "./constants.ts";
import type { ClusterClient } from "./kube-client.ts";

export interface PolicySource {
  current(): XTrinodePolicy | undefined;
  /** Reads the source again; a bad policy keeps the last good one and throws the reason. */
  reload(): Promise<void>;
}

export function parsePolicyText(text: string, origin: string): XTrinodePolicy {
  // The spec loader's parser: the same YAML schema and the same bounds as spec files.
  const docs = parseDocuments(origin, text);
  if (docs.length > 1) throw new Error(`${origin}: holds ${docs.length} YAML documents; a policy is one document`);
  const doc = docs[0]?.doc ?? null;
  const issues = validateAgainstSchema("XTrinodePolicy", doc);
  if (issues.length)
    throw new Error(`${origin}: invalid XTrinodePolicy: ${issues.map((i) => `${i.path || "(document)"}: ${i.message}`).join("; ")}`);
  return doc as XTrinodePolicy;
}

export function filePolicySource(file: string): PolicySource {
  let policy: XTrinodePolicy | undefined;
  return {
    current: () => policy,
    async reload() {
      policy = await loadPolicy(file);
    },
  };
}

export function configMapPolicySource(client: ClusterClient, namespace: string): PolicySource {
  let policy: XTrinodePolicy | undefined;
  return {
    current: () => policy,
    async reload() {
      const configMap = await client.get({ apiVersion: "v1", kind: "ConfigMap", namespace, name: policyConfigMapName });
      const text = (configMap?.data as Record<string, string> | undefined)?.[policyDataKey];
      policy = text ? parsePolicyText(text, `ConfigMap ${namespace}/${policyConfigMapName} data.${policyDataKey}`) : undefined;
    },
  };
}
