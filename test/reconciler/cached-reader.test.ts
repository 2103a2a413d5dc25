// The controller's cache-backed reader against the Kubernetes API test server: what it answers from
// the informer caches and when it asks the API server.
import { expect } from "chai";
import { silentLogger } from "../../lib/logger.ts";
import { CachedReader, type ReaderInformers } from "../../reconciler/cached-reader.ts";
import { apiReader } from "../../reconciler/cluster-reader.ts";
import { prunableKinds } from "../../reconciler/constants.ts";
import { labelledObjectInformer, resilientInformer, type ResilientInformer } from "../../reconciler/informers.ts";
import type { ClusterClient } from "../../reconciler/kube-client.ts";
import { ownerLabel } from "../../schemas/api/index.ts";
import { eventually } from "../support/eventually.ts";
import { gatewayNamespace, startCluster, type Cluster } from "./support.ts";

describe("reconciler: the cache-backed reader", () => {
  let cluster: Cluster;
  const started: ResilientInformer[] = [];
  before(async () => {
    cluster = await startCluster({}, ["team-a"]);
  });
  after(async () => {
    for (const informer of started) await informer.stop();
    await cluster?.close();
  });

  it("answers 'none' for an owned kind whose CRD is not installed, without asking the API server again", async () => {
    // The test cluster serves the AWS machine template CRD only; the GCP one is not installed.
    const missing = prunableKinds.find((k) => k.kind === "GCPMachineTemplate")!;
    const served = prunableKinds.find((k) => k.kind === "ConfigMap")!;
    const watch = (kind: typeof missing) => {
      const informer = resilientInformer(kind.plural, labelledObjectInformer(cluster.kubeConfig, kind, ownerLabel), silentLogger());
      started.push(informer);
      return informer;
    };
    const owned = new Map([missing, served].map((kind) => [`${kind.apiVersion}/${kind.kind}`, watch(kind)]));
    for (const informer of owned.values()) await informer.start();
    await eventually("the missing kind's informer to report it missing", async () =>
      owned.get(`${missing.apiVersion}/${missing.kind}`)!.kindMissing(),
    );
    expect(owned.get(`${served.apiVersion}/${served.kind}`)!.kindMissing()).to.equal(false);

    // Every other kind the reader lists on its own counts as a request; only the two watched kinds are cached.
    const listed: string[] = [];
    const client: ClusterClient = {
      ...cluster.client,
      list: async (apiVersion, kind, namespace, labelSelector) => {
        listed.push(`${apiVersion}/${kind}`);
        return cluster.client.list(apiVersion, kind, namespace, labelSelector);
      },
    };
    const unused = owned.get(`${served.apiVersion}/${served.kind}`)!;
    const informers: ReaderInformers = { runtimes: unused, catalogs: unused, secrets: unused, routes: unused, owned, guardrails: [] };
    const reader = new CachedReader(informers, apiReader(client, gatewayNamespace), client, gatewayNamespace);
    await reader.owned("team-a", "bi");
    expect(listed).to.not.include(`${missing.apiVersion}/${missing.kind}`);
    expect(listed).to.not.include(`${served.apiVersion}/${served.kind}`);
  });

  it("finds a runtime's owned objects as they are created, relabelled and deleted, including those cached before the reader", async () => {
    const kind = prunableKinds.find((k) => k.kind === "ConfigMap")!;
    const configMap = (name: string, owner: string) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: "team-a", labels: { [ownerLabel]: owner } },
      data: { k: "v" },
    });
    await cluster.client.create(configMap("early", "rt-1"));
    const informer = resilientInformer(kind.plural, labelledObjectInformer(cluster.kubeConfig, kind, ownerLabel), silentLogger());
    started.push(informer);
    await informer.start();
    const owned = new Map([[`${kind.apiVersion}/${kind.kind}`, informer]]);
    const informers: ReaderInformers = {
      runtimes: informer,
      catalogs: informer,
      secrets: informer,
      routes: informer,
      owned,
      guardrails: [],
    };
    const reader = new CachedReader(informers, apiReader(cluster.client, gatewayNamespace), cluster.client, gatewayNamespace);
    const names = async (owner: string) =>
      [...(await reader.owned("team-a", owner)).byKey.values()]
        .filter((o) => o.kind === "ConfigMap")
        .map((o) => o.metadata?.name)
        .sort();
    expect(await names("rt-1")).to.deep.equal(["early"]);
    await cluster.client.create(configMap("late", "rt-1"));
    await eventually("the new object", async () => (await names("rt-1")).length === 2);
    const late = await cluster.client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "team-a", name: "late" });
    await cluster.client.replace({ ...late!, metadata: { ...late!.metadata, labels: { [ownerLabel]: "rt-2" } } });
    await eventually("the relabelled object moved", async () => (await names("rt-2")).length === 1);
    expect(await names("rt-1")).to.deep.equal(["early"]);
    await cluster.client.delete({ apiVersion: "v1", kind: "ConfigMap", namespace: "team-a", name: "early" });
    await eventually("the deleted object gone", async () => (await names("rt-1")).length === 0);
    expect(await names("rt-2")).to.deep.equal(["late"]);
  });
});
