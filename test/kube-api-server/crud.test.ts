import { expect } from "chai";
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { minimalCrd } from "../../fixtures/kube-api-server/index.ts";
import { apiError, useServer, deployment } from "./support.ts";

describe("kube-api-server: CRUD, selectors, conflicts, generation, status", () => {
  const ctx = useServer({ sim: { workloads: false } });
  let core: CoreV1Api;
  before(async () => {
    core = ctx.kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "crud" } } });
  });

  it("creates, reads, replaces and deletes namespaced objects with resourceVersion and uid", async () => {
    const created = await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "one" }, data: { a: "1" } } });
    expect(created.metadata?.uid).to.match(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).to.be.instanceOf(Date);
    const read = await core.readNamespacedConfigMap({ name: "one", namespace: "crud" });
    expect(read.metadata?.resourceVersion).to.equal(created.metadata?.resourceVersion);
    read.data = { a: "2" };
    const replaced = await core.replaceNamespacedConfigMap({ name: "one", namespace: "crud", body: read });
    expect(Number(replaced.metadata?.resourceVersion)).to.be.greaterThan(Number(created.metadata?.resourceVersion));
    expect(replaced.data).to.deep.equal({ a: "2" });
    await core.deleteNamespacedConfigMap({ name: "one", namespace: "crud" });
    const missing = await apiError(() => core.readNamespacedConfigMap({ name: "one", namespace: "crud" }));
    expect(missing.code).to.equal(404);
    expect(missing.body).to.include({ kind: "Status", reason: "NotFound", status: "Failure" });
  });

  it("rejects a duplicate create with 409 AlreadyExists and a stale update with 409 Conflict", async () => {
    await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "dup" } } });
    const dup = await apiError(() => core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "dup" } } }));
    expect(dup.code).to.equal(409);
    expect(dup.body.reason).to.equal("AlreadyExists");
    const stale = await core.readNamespacedConfigMap({ name: "dup", namespace: "crud" });
    await core.replaceNamespacedConfigMap({ name: "dup", namespace: "crud", body: { ...stale, data: { x: "1" } } });
    const conflict = await apiError(() =>
      core.replaceNamespacedConfigMap({ name: "dup", namespace: "crud", body: { ...stale, data: { x: "2" } } }),
    );
    expect(conflict.code).to.equal(409);
    expect(conflict.body.reason).to.equal("Conflict");
    expect(conflict.body.message).to.match(/the object has been modified/);
  });

  it("rejects a resourceVersion on create and an unconditional update of a custom resource", async () => {
    const preset = await apiError(() =>
      core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "rv", resourceVersion: "5" } } }),
    );
    expect(preset.code).to.equal(400);
    ctx.server.registerCrds([minimalCrd({ group: "example.test", kind: "Gadget" })]);
    const custom = ctx.kc.makeApiClient(CustomObjectsApi);
    const ref = { group: "example.test", version: "v1", namespace: "crud", plural: "gadgets" };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: "example.test/v1", kind: "Gadget", metadata: { name: "g" }, spec: { a: 1 } },
    });
    const unconditional = await apiError(() =>
      custom.replaceNamespacedCustomObject({
        ...ref,
        name: "g",
        body: { apiVersion: "example.test/v1", kind: "Gadget", metadata: { name: "g" }, spec: { a: 2 } },
      }),
    );
    expect(unconditional.code).to.equal(422);
    expect(unconditional.body.message).to.contain("metadata.resourceVersion");
  });

  it("refuses to create in a namespace that does not exist", async () => {
    const failure = await apiError(() => core.createNamespacedConfigMap({ namespace: "nowhere", body: { metadata: { name: "x" } } }));
    expect(failure.code).to.equal(404);
  });

  it("filters lists by label and field selectors", async () => {
    const labels = [
      ["s1", { tier: "web", env: "prod" }],
      ["s2", { tier: "db", env: "prod" }],
      ["s3", { tier: "web" }],
    ] as const;
    for (const [name, l] of labels)
      await core.createNamespacedSecret({ namespace: "crud", body: { metadata: { name, labels: { ...l } } } });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedSecret({ namespace: "crud", labelSelector, fieldSelector })).items.map((s) => s.metadata?.name);
    expect(await names("tier=web")).to.deep.equal(["s1", "s3"]);
    expect(await names("tier!=web")).to.deep.equal(["s2"]);
    expect(await names("tier in (db, web),env")).to.deep.equal(["s1", "s2"]);
    expect(await names("tier notin (web)")).to.deep.equal(["s2"]);
    expect(await names("!env")).to.deep.equal(["s3"]);
    expect(await names(undefined, "metadata.name=s2")).to.deep.equal(["s2"]);
    expect(await names("tier=web", "metadata.name!=s1")).to.deep.equal(["s3"]);
    const all = await core.listSecretForAllNamespaces({ fieldSelector: "metadata.namespace=crud" });
    expect(all.items).to.have.length(3);
    expect((await apiError(() => names("tier in web"))).code).to.equal(400);
  });

  it("pages lists with limit and continue", async () => {
    const first = await core.listNamespacedSecret({ namespace: "crud", limit: 2 });
    expect(first.items).to.have.length(2);
    expect(first.metadata?._continue).to.be.a("string");
    const second = await core.listNamespacedSecret({ namespace: "crud", limit: 2, _continue: first.metadata?._continue });
    expect(second.items.map((s) => s.metadata?.name)).to.deep.equal(["s3"]);
    expect(second.metadata?._continue).to.equal(undefined);
  });

  it("bumps generation on spec changes only and keeps status on the main endpoint", async () => {
    const apps = ctx.kc.makeApiClient(AppsV1Api);
    const created = await apps.createNamespacedDeployment({
      namespace: "crud",
      body: { ...deployment("gen", 1), status: { replicas: 99 } },
    });
    expect(created.metadata?.generation).to.equal(1);
    expect(created.status?.replicas).to.equal(undefined);
    const labelled = await apps.replaceNamespacedDeployment({
      name: "gen",
      namespace: "crud",
      body: { ...created, metadata: { ...created.metadata, labels: { app: "gen", extra: "yes" } } },
    });
    expect(labelled.metadata?.generation).to.equal(1);
    const scaled = await apps.replaceNamespacedDeployment({
      name: "gen",
      namespace: "crud",
      body: { ...labelled, spec: { ...labelled.spec!, replicas: 3 } },
    });
    expect(scaled.metadata?.generation).to.equal(2);
    const statusWrite = await apps.replaceNamespacedDeploymentStatus({
      name: "gen",
      namespace: "crud",
      body: { ...scaled, spec: { ...scaled.spec!, replicas: 7 }, status: { replicas: 3, observedGeneration: 2 } },
    });
    expect(statusWrite.status?.replicas).to.equal(3);
    expect(statusWrite.spec?.replicas).to.equal(3);
    expect(statusWrite.metadata?.generation).to.equal(2);
    const mainWrite = await apps.replaceNamespacedDeployment({
      name: "gen",
      namespace: "crud",
      body: { ...statusWrite, status: { replicas: 0 } },
    });
    expect(mainWrite.status?.replicas).to.equal(3);
  });

  it("serves the scale subresource of Deployments and records the scaler as a field manager", async () => {
    const apps = ctx.kc.makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({ namespace: "crud", body: deployment("scaled", 2) });
    const scale = await apps.readNamespacedDeploymentScale({ name: "scaled", namespace: "crud" });
    expect(scale.spec?.replicas).to.equal(2);
    expect(scale.status?.selector).to.equal("app=scaled");
    const updated = await apps.replaceNamespacedDeploymentScale({
      name: "scaled",
      namespace: "crud",
      fieldManager: "horizontal-pod-autoscaler",
      body: { metadata: { name: "scaled", namespace: "crud" }, spec: { replicas: 4 } },
    });
    expect(updated.spec?.replicas).to.equal(4);
    const d = await apps.readNamespacedDeployment({ name: "scaled", namespace: "crud" });
    expect(d.spec?.replicas).to.equal(4);
    expect(d.metadata?.managedFields?.map((m) => m.manager)).to.include("horizontal-pod-autoscaler");
    const invalid = await apiError(() =>
      apps.replaceNamespacedDeploymentScale({
        name: "scaled",
        namespace: "crud",
        body: { metadata: { name: "scaled" }, spec: { replicas: -1 } },
      }),
    );
    expect(invalid.code).to.equal(422);
  });

  it("validates but does not store dry-run writes", async () => {
    const dry = await core.createNamespacedConfigMap({
      namespace: "crud",
      dryRun: "All",
      body: { metadata: { name: "dry" }, data: { a: "1" } },
    });
    expect(dry.data).to.deep.equal({ a: "1" });
    expect((await apiError(() => core.readNamespacedConfigMap({ name: "dry", namespace: "crud" }))).code).to.equal(404);
    const real = await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "dry" }, data: { a: "1" } } });
    const dryUpdate = await core.replaceNamespacedConfigMap({
      name: "dry",
      namespace: "crud",
      dryRun: "All",
      body: { ...real, data: { a: "2" } },
    });
    expect(dryUpdate.data).to.deep.equal({ a: "2" });
    await core.deleteNamespacedConfigMap({ name: "dry", namespace: "crud", dryRun: "All" });
    const after = await core.readNamespacedConfigMap({ name: "dry", namespace: "crud" });
    expect(after.data).to.deep.equal({ a: "1" });
    expect(after.metadata?.resourceVersion).to.equal(real.metadata?.resourceVersion);
  });

  it("serves cluster-scoped and custom objects through CustomObjectsApi, with a status subresource", async () => {
    ctx.server.registerCrds([minimalCrd({ group: "xtrinode.io", kind: "XTrinodeCatalog", versions: ["v1alpha1"] })]);
    const custom = ctx.kc.makeApiClient(CustomObjectsApi);
    const ref = { group: "xtrinode.io", version: "v1alpha1", namespace: "crud", plural: "xtrinodecatalogs" };
    const created = (await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinodeCatalog", metadata: { name: "hive" }, spec: { connector: "hive" } },
    })) as any;
    expect(created.metadata.generation).to.equal(1);
    const withStatus = (await custom.replaceNamespacedCustomObjectStatus({
      ...ref,
      name: "hive",
      body: { ...created, spec: { connector: "ignored" }, status: { ok: true } },
    })) as any;
    expect(withStatus.status).to.deep.equal({ ok: true });
    expect(withStatus.spec.connector).to.equal("hive");
    expect(withStatus.metadata.generation).to.equal(1);
    const listed = (await custom.listNamespacedCustomObject(ref)) as any;
    expect(listed.kind).to.equal("XTrinodeCatalogList");
    expect(listed.items).to.have.length(1);
    const ns = await core.readNamespace({ name: "crud" });
    expect(ns.status?.phase).to.equal("Active");
  });
});
