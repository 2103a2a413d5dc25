import { expect } from "chai";
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node";
import { apiError, useServer } from "./support.ts";
import { eventually } from "../support/eventually.ts";

describe("kube-api-server: finalizers, garbage collection, namespaces", () => {
  const ctx = useServer({ sim: { workloads: false } });
  let core: CoreV1Api;
  before(async () => {
    core = ctx.kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "life" } } });
  });

  it("marks an object with finalizers for deletion and deletes it when the last finalizer goes", async () => {
    const seen: string[] = [];
    const abort = await new Watch(ctx.kc).watch(
      "/api/v1/namespaces/life/configmaps",
      { resourceVersion: String(ctx.server.resourceVersion()) },
      (type, obj) => seen.push(`${type}:${obj.metadata.name}`),
      () => undefined,
    );
    try {
      await core.createNamespacedConfigMap({
        namespace: "life",
        body: { metadata: { name: "held", finalizers: ["xtrinode.io/cleanup", "other/x"] } },
      });
      await core.deleteNamespacedConfigMap({ name: "held", namespace: "life" });
      const marked = await core.readNamespacedConfigMap({ name: "held", namespace: "life" });
      expect(marked.metadata?.deletionTimestamp).to.be.instanceOf(Date);
      const again = await core.deleteNamespacedConfigMap({ name: "held", namespace: "life" });
      expect(again).to.be.an("object");
      const addFinalizer = await apiError(() =>
        core.patchNamespacedConfigMap(
          { name: "held", namespace: "life", body: { metadata: { finalizers: ["xtrinode.io/cleanup", "other/x", "late/one"] } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        ),
      );
      expect(addFinalizer.code).to.equal(422);
      const one = await core.patchNamespacedConfigMap(
        { name: "held", namespace: "life", body: { metadata: { finalizers: ["other/x"] } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      expect(one.metadata?.finalizers).to.deep.equal(["other/x"]);
      await core.replaceNamespacedConfigMap({
        name: "held",
        namespace: "life",
        body: { ...one, metadata: { ...one.metadata, finalizers: [] } },
      });
      expect((await apiError(() => core.readNamespacedConfigMap({ name: "held", namespace: "life" }))).code).to.equal(404);
      await eventually("the DELETED event of held", () => seen.includes("DELETED:held"));
      expect(seen[0]).to.equal("ADDED:held");
    } finally {
      abort.abort();
    }
  });

  it("garbage-collects owned objects in the background when the owner is deleted", async () => {
    const apps = ctx.kc.makeApiClient(AppsV1Api);
    const owner = await apps.createNamespacedDeployment({
      namespace: "life",
      body: {
        metadata: { name: "owner" },
        spec: {
          selector: { matchLabels: { a: "b" } },
          template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } },
        },
      },
    });
    const ref = { apiVersion: "apps/v1", kind: "Deployment", name: "owner", uid: owner.metadata!.uid!, controller: true };
    const other = await core.createNamespacedConfigMap({ namespace: "life", body: { metadata: { name: "other-owner" } } });
    const otherRef = { apiVersion: "v1", kind: "ConfigMap", name: "other-owner", uid: other.metadata!.uid! };
    await core.createNamespacedConfigMap({ namespace: "life", body: { metadata: { name: "child", ownerReferences: [ref] } } });
    await core.createNamespacedSecret({ namespace: "life", body: { metadata: { name: "shared", ownerReferences: [ref, otherRef] } } });
    await core.createNamespacedService({ namespace: "life", body: { metadata: { name: "grandchild", ownerReferences: [] } } });
    const child = await core.readNamespacedConfigMap({ name: "child", namespace: "life" });
    await core.patchNamespacedService(
      {
        name: "grandchild",
        namespace: "life",
        body: { metadata: { ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "child", uid: child.metadata!.uid! }] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await apps.deleteNamespacedDeployment({ name: "owner", namespace: "life" });
    await eventually(
      "the Services of namespace life garbage-collected",
      async () => (await core.listNamespacedService({ namespace: "life" })).items.length === 0,
    );
    const configMaps = (await core.listNamespacedConfigMap({ namespace: "life" })).items.map((c) => c.metadata?.name);
    expect(configMaps).to.not.include("child");
    const shared = await core.readNamespacedSecret({ name: "shared", namespace: "life" });
    expect(shared.metadata?.ownerReferences?.map((r) => r.name)).to.deep.equal(["other-owner"]);
  });

  it("orphans dependents with propagationPolicy=Orphan", async () => {
    const owner = await core.createNamespacedConfigMap({ namespace: "life", body: { metadata: { name: "orphaner" } } });
    const ref = { apiVersion: "v1", kind: "ConfigMap", name: "orphaner", uid: owner.metadata!.uid! };
    await core.createNamespacedSecret({ namespace: "life", body: { metadata: { name: "orphan", ownerReferences: [ref] } } });
    await core.deleteNamespacedConfigMap({ name: "orphaner", namespace: "life", propagationPolicy: "Orphan" });
    await new Promise((r) => setTimeout(r, 20));
    const orphan = await core.readNamespacedSecret({ name: "orphan", namespace: "life" });
    expect(orphan.metadata?.ownerReferences).to.equal(undefined);
  });

  it("empties and removes a deleted namespace, refusing new content meanwhile", async () => {
    await core.createNamespace({ body: { metadata: { name: "doomed" } } });
    await core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "x", finalizers: ["hold"] } } });
    await core.deleteNamespace({ name: "doomed" });
    const terminating = await core.readNamespace({ name: "doomed" });
    expect(terminating.status?.phase).to.equal("Terminating");
    const refused = await apiError(() => core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "y" } } }));
    expect(refused.code).to.equal(403);
    await core.patchNamespacedConfigMap(
      { name: "x", namespace: "doomed", body: { metadata: { finalizers: null } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually("namespace doomed deleted", async () =>
      (await core.listNamespace()).items.every((n) => n.metadata?.name !== "doomed"),
    );
  });

  it("deletes generic objects through KubernetesObjectApi", async () => {
    const objects = KubernetesObjectApi.makeApiClient(ctx.kc);
    await objects.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "sa", namespace: "life" } });
    const status = await objects.delete({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "sa", namespace: "life" } });
    expect(status.status).to.equal("Success");
    expect(
      (await apiError(() => objects.read({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "sa", namespace: "life" } }))).code,
    ).to.equal(404);
  });
});
