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
});
