// What the real-k8s tier installs and creates: the install in deploy/ applied like
// `kubectl apply --server-side -k deploy` (field manager "kubectl", no --force-conflicts), the third-party
// CRDs the operator writes to, and the example specs plus every fixture spec with one operator policy that
// holds each fixture's namespace rules.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { HttpMethod, PatchStrategy, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { minimalCrd, thirdPartyCrds } from "../../fixtures/kube-api-server/index.ts";
import { placeholderSecrets } from "../../fixtures/local-stack/index.ts";
import { RawObjectApi } from "../../reconciler/kube-client.ts";
import type { XTrinodePolicy } from "../../renderer/types.ts";
import { defaultInstallDir, objectsOf, repoRoot } from "../deploy/layout.ts";

export type KubeDoc = Record<string, any>;

/** The field manager `kubectl apply --server-side` uses. */
export const kubectlFieldManager = "kubectl";

/**
 * Server-side apply of each object, as `kubectl apply --server-side` (no force: conflicts are errors; unknown
 * fields refused, kubectl's default --validate=strict); `dryRun` as `--dry-run=server`.
 */
export async function serverSideApply(
  kubeConfig: KubeConfig,
  objects: KubeDoc[],
  options: { force?: boolean; dryRun?: boolean } = {},
): Promise<KubeDoc[]> {
  const api = RawObjectApi.fromKubeConfig(kubeConfig);
  const applied: KubeDoc[] = [];
  for (const object of objects) {
    const query: Record<string, string> = { fieldManager: kubectlFieldManager, fieldValidation: "Strict" };
    if (options.force) query.force = "true";
    if (options.dryRun) query.dryRun = "All";
    applied.push(await api.send(HttpMethod.PATCH, "patch", object as KubernetesObject, query, PatchStrategy.ServerSideApply));
  }
  return applied;
}

/**
 * deploy/ as `kubectl apply -k deploy` renders it, CRDs and Namespaces first (kubectl orders them so too); with
 * `policy`, the xtrinode-policy ConfigMap carries it, as an overlay that patches the policy would.
 */
export function installObjects(policy?: XTrinodePolicy): KubeDoc[] {
  const objects = objectsOf(defaultInstallDir).map((o) =>
    policy && o.kind === "ConfigMap" && o.metadata.name === "xtrinode-policy"
      ? { ...o, data: { ...o.data, "policy.yaml": yaml.dump(policy) } }
      : o,
  );
  const rank = (o: KubeDoc) => (o.kind === "CustomResourceDefinition" ? 0 : o.kind === "Namespace" ? 1 : 2);
  return [...objects].sort((a, b) => rank(a) - rank(b));
}

/** KEDA, Cluster API and Prometheus operator kinds the operator renders (their own operators are not installed). */
export function thirdPartyCrdObjects(): KubeDoc[] {
  return [
    ...thirdPartyCrds(),
    minimalCrd({ group: "bootstrap.cluster.x-k8s.io", kind: "KubeadmConfigTemplate", versions: ["v1beta1"], status: false }),
    minimalCrd({ group: "infrastructure.cluster.x-k8s.io", kind: "AWSMachineTemplate", versions: ["v1beta2"], status: false }),
  ];
}

function yamlDocs(file: string): KubeDoc[] {
  return (yaml.loadAll(readFileSync(file, "utf8")) as KubeDoc[]).filter((doc) => doc && typeof doc === "object");
}

export interface SpecCorpus {
  runtimes: KubeDoc[];
  catalogs: KubeDoc[];
  policy: XTrinodePolicy;
  /** Namespaces the specs live in. */
  namespaces: string[];
  /** Secrets the catalogs reference, with placeholder values. */
  secrets: KubeDoc[];
}

/**
 * examples/specs and every file of fixtures/specs. Each fixture file may carry its own XTrinodePolicy; the
 * operator reads one, so the example policy's namespace rules are the base and each fixture policy becomes the
 * rules of the namespaces its runtimes use (its defaults folded into them).
 */
export function specCorpus(): SpecCorpus {
  const files = [
    ...["catalogs.yaml", "runtimes.yaml", "policy.yaml"].map((name) => path.join(repoRoot, "examples/specs", name)),
    ...readdirSync(path.join(repoRoot, "fixtures/specs"))
      .filter((name) => name.endsWith(".yaml"))
      .sort()
      .map((name) => path.join(repoRoot, "fixtures/specs", name)),
  ];
  const runtimes: KubeDoc[] = [];
  const catalogs: KubeDoc[] = [];
  let policy: XTrinodePolicy | undefined;
  const namespaceRules: Record<string, unknown> = {};
  for (const file of files) {
    const docs = yamlDocs(file);
    const withNamespace = (doc: KubeDoc) => ({ ...doc, metadata: { ...doc.metadata, namespace: doc.metadata.namespace ?? "default" } });
    const fileRuntimes = docs.filter((doc) => doc.kind === "XTrinode").map(withNamespace);
    runtimes.push(...fileRuntimes);
    catalogs.push(...docs.filter((doc) => doc.kind === "XTrinodeCatalog").map(withNamespace));
    const filePolicy = docs.find((doc) => doc.kind === "XTrinodePolicy") as XTrinodePolicy | undefined;
    if (!filePolicy) continue;
    if (!policy) {
      policy = filePolicy;
      continue;
    }
    for (const namespace of new Set(fileRuntimes.map((doc) => doc.metadata.namespace as string))) {
      namespaceRules[namespace] = {
        ...(filePolicy.defaults ?? {}),
        ...((filePolicy.namespaces as Record<string, object> | undefined)?.[namespace] ?? {}),
      };
    }
  }
  if (!policy) throw new Error("examples/specs/policy.yaml holds no XTrinodePolicy");
  // The example defaults (maxWorkers 8, …) would refuse fixtures written for no policy at all (keda-prometheus's
  // max 10): only the namespace rules are kept.
  const merged = { ...policy, defaults: {}, namespaces: { ...(policy.namespaces ?? {}), ...namespaceRules } } as XTrinodePolicy;
  const namespaces = [...new Set([...runtimes, ...catalogs].map((doc) => doc.metadata.namespace as string))].sort();
  return { runtimes, catalogs, policy: merged, namespaces, secrets: placeholderSecrets(catalogs as never) as KubeDoc[] };
}

/** The documents of fixtures/invalid/<name>.yaml (the malformed one excepted by its caller). */
export function invalidFixture(name: string): KubeDoc[] {
  return yamlDocs(path.join(repoRoot, "fixtures/invalid", `${name}.yaml`));
}

/** Worker mode keda: the runtimes a real API server's CRD defaulting put in Error (issue 14). */
export function isKeda(runtime: KubeDoc): boolean {
  return runtime.spec?.workers?.mode === "keda";
}

/** The phase a runtime of the corpus settles in: Suspended when its spec says so, else Ready. */
export function settledPhase(runtime: KubeDoc): string {
  return runtime.spec?.lifecycle?.suspended ? "Suspended" : "Ready";
}
