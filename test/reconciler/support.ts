// Shared setup of the operator's integration tests: a Kubernetes API test server with the XTrinode
// CRDs and the third-party kinds we render, namespaces, and small helpers that talk to it through
// @kubernetes/client-node (the same ClusterClient production code uses).
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  loadCrdFiles,
  minimalCrd,
  startKubeApiServer,
  thirdPartyCrds,
  type KubeApiServerOptions,
  type KubeApiTestServer,
} from "../../fixtures/kube-api-server/index.ts";
import { silentLogger } from "../../lib/logger.ts";
import type { XTrinodePolicy } from "../../renderer/types.ts";
import { apiVersion, defaultGatewayNamespace } from "../../schemas/api/index.ts";
import type { KubeObject } from "../../reconciler/apply-decision.ts";
import { leaseName, operatorNamespace } from "../../reconciler/constants.ts";
import { createClusterClient, type ClusterClient } from "../../reconciler/kube-client.ts";
import { createReconcileContext } from "../../reconciler/operator.ts";
import type { PolicySource } from "../../reconciler/policy.ts";
import { reconcileRuntime, type ReconcileContext, type ReconcileResult } from "../../reconciler/reconcile.ts";
import { readRoutes } from "../../reconciler/routes-publisher.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const gatewayNamespace = defaultGatewayNamespace;

/** XTrinode CRDs: deploy/crds when generated, else minimal ones (the test server validates no schema). */
export function xtrinodeCrds() {
  const dir = path.join(repoRoot, "deploy", "crds");
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => path.join(dir, f))
    : [];
  const loaded = files.length ? loadCrdFiles(files) : [];
  if (loaded.some((c) => (c.spec as { names?: { kind?: string } }).names?.kind === "XTrinode")) return loaded;
  return [
    minimalCrd({ group: "xtrinode.io", kind: "XTrinode", versions: ["v1alpha1"], shortNames: ["xtn"] }),
    minimalCrd({ group: "xtrinode.io", kind: "XTrinodeCatalog", versions: ["v1alpha1"], shortNames: ["xtncat"] }),
  ];
}

/** Cluster API kinds of a node pool besides the MachineDeployment. */
function nodePoolCrds() {
  return [
    minimalCrd({ group: "bootstrap.cluster.x-k8s.io", kind: "KubeadmConfigTemplate", versions: ["v1beta1"], status: false }),
    minimalCrd({ group: "infrastructure.cluster.x-k8s.io", kind: "AWSMachineTemplate", versions: ["v1beta2"], status: false }),
  ];
}

export const testPolicy: XTrinodePolicy = {
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodePolicy",
  defaults: { maxWorkers: 20, allowedNodePoolClasses: ["memory-optimized"], quota: { pods: 50 } },
};

export function staticPolicy(policy: XTrinodePolicy | undefined = testPolicy): PolicySource {
  return { current: () => policy, reload: async () => undefined };
}

export interface Cluster {
  server: KubeApiTestServer;
  kubeConfig: KubeConfig;
  client: ClusterClient;
  close(): Promise<void>;
}

export async function startCluster(options: KubeApiServerOptions = {}, namespaces: string[] = ["team-a", "team-b"]): Promise<Cluster> {
  const server = await startKubeApiServer({
    ...options,
    crds: [...xtrinodeCrds(), ...thirdPartyCrds(), ...nodePoolCrds(), ...(options.crds ?? [])],
  });
  const kubeConfig = server.kubeConfig();
  const client = createClusterClient(kubeConfig);
  for (const name of [...namespaces, gatewayNamespace, "xtrinode-system"]) {
    await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  }
  return { server, kubeConfig, client, close: () => server.close() };
}

/** A clock tests move by hand, so timers (drain, wakeTTL) need no waiting. */
export class TestClock {
  ms = Date.parse("2026-06-01T12:00:00Z");
  now = () => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function testContext(cluster: Cluster, clock = new TestClock(), policy = staticPolicy()): ReconcileContext {
  const ctx = createReconcileContext(cluster.client, {
    gatewayNamespace,
    policy,
    log: silentLogger(),
    timers: { drainPeriodMs: 30_000, maxDrainMs: 300_000 },
  });
  return { ...ctx, now: clock.now };
}

export function runtime(namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject {
  return { apiVersion, kind: "XTrinode", metadata: { name, namespace }, spec: { workers: { mode: "fixed", count: 1 }, ...spec } };
}

export function catalog(namespace: string, name: string, spec: Record<string, unknown>, labels?: Record<string, string>): KubeObject {
  return { apiVersion, kind: "XTrinodeCatalog", metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec };
}

export async function getRuntime(client: ClusterClient, namespace: string, name: string): Promise<KubeObject | undefined> {
  return client.get({ apiVersion, kind: "XTrinode", namespace, name });
}

export async function phaseOf(client: ClusterClient, namespace: string, name: string): Promise<string | undefined> {
  return ((await getRuntime(client, namespace, name))?.status as { phase?: string } | undefined)?.phase;
}

export async function routeOf(client: ClusterClient, namespace: string, name: string) {
  return (await readRoutes(client, gatewayNamespace)).routes.find((r) => r.namespace === namespace && r.name === name);
}

/** The operator's leader Lease as the API server holds it (undefined before any operator took it). */
export async function operatorLease(cluster: Cluster): Promise<KubeObject | undefined> {
  return cluster.client.get({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: operatorNamespace, name: leaseName });
}

/** Who holds the operator's leader Lease now (undefined: nobody, or no Lease yet). */
export async function leaseHolder(cluster: Cluster): Promise<string | undefined> {
  return ((await operatorLease(cluster))?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
}

/** Reconciles until nothing asks for an immediate pass again (Pending → first real pass). */
export async function reconcile(ctx: ReconcileContext, namespace: string, name: string): Promise<ReconcileResult> {
  let result = await reconcileRuntime(ctx, namespace, name);
  for (let i = 0; i < 5 && result.requeueAfterMs === 0; i++) result = await reconcileRuntime(ctx, namespace, name);
  return result;
}

/** Events of a namespace with one reason. */
export async function events(cluster: Cluster, ns: string, reason: string) {
  return (await cluster.client.list("v1", "Event", ns)).filter((e) => e.reason === reason);
}

/** The parts of an XTrinode status the tests read. */
export type RuntimeStatus = {
  phase?: string;
  routeState?: string;
  message?: string;
  observedGeneration?: number;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
};

export async function statusOf(cluster: Cluster, namespace: string, name: string): Promise<RuntimeStatus> {
  return ((await getRuntime(cluster.client, namespace, name))?.status ?? {}) as RuntimeStatus;
}

export function condition(status: RuntimeStatus, type: string) {
  return status.conditions?.find((c) => c.type === type);
}

/** Reconciles, lets the simulated controllers react, and reconciles again until the phase is `phase`. */
export async function reconcileTo(
  ctx: ReconcileContext,
  cluster: Cluster,
  namespace: string,
  name: string,
  phase: string,
  passes = 10,
): Promise<void> {
  for (let i = 0; i < passes; i++) {
    await reconcile(ctx, namespace, name);
    if ((await phaseOf(cluster.client, namespace, name)) === phase) return;
    await tick();
  }
  throw new Error(`${namespace}/${name} did not reach ${phase}: ${JSON.stringify(await statusOf(cluster, namespace, name))}`);
}

/** Lets the test server's controller simulation run its 0-delay timers. */
export function tick(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
