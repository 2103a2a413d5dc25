import { expect } from "chai";
import {
  ApisApi,
  AppsV1Api,
  CoreApi,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { minimalCrd } from "../../fixtures/kube-api-server/index.ts";
import { apiError, useServer } from "./support.ts";

describe("kube-api-server: discovery", () => {
  const ctx = useServer();

  it("serves core and group versions with built-in resources", async () => {
    const core = await ctx.kc.makeApiClient(CoreApi).getAPIVersions();
    expect(core.versions).to.deep.equal(["v1"]);
    const groups = await ctx.kc.makeApiClient(ApisApi).getAPIVersions();
    const names = groups.groups.map((g) => g.name);
    for (const g of [
      "apps",
      "autoscaling",
      "policy",
      "coordination.k8s.io",
      "events.k8s.io",
      "authentication.k8s.io",
      "apiextensions.k8s.io",
    ]) {
      expect(names).to.include(g);
    }
    const v1 = await ctx.kc.makeApiClient(CoreV1Api).getAPIResources();
    const configmaps = v1.resources.find((r) => r.name === "configmaps")!;
    expect(configmaps).to.include({ kind: "ConfigMap", namespaced: true });
    expect(configmaps.shortNames).to.deep.equal(["cm"]);
    expect(configmaps.verbs).to.include.members(["create", "get", "list", "watch", "patch", "update", "delete"]);
    expect(v1.resources.find((r) => r.name === "namespaces")).to.include({ namespaced: false });
    const apps = await ctx.kc.makeApiClient(AppsV1Api).getAPIResources();
    expect(apps.resources.map((r) => r.name)).to.include.members(["deployments", "deployments/status", "statefulsets"]);
  });

  it("registers kinds from a created CRD and serves them generically", async () => {
    const objects = KubernetesObjectApi.makeApiClient(ctx.kc);
    const custom = ctx.kc.makeApiClient(CustomObjectsApi);
    const failure = await apiError(() => custom.getAPIResources({ group: "xtrinode.io", version: "v1alpha1" }));
    expect(failure.code).to.equal(404);
    await objects.create(minimalCrd({ group: "xtrinode.io", kind: "XTrinode", versions: ["v1alpha1"], shortNames: ["xt"] }));
    const resources = await custom.getAPIResources({ group: "xtrinode.io", version: "v1alpha1" });
    expect(resources.resources.find((r) => r.name === "xtrinodes")).to.include({ namespaced: true, kind: "XTrinode" });
    expect(resources.resources.map((r) => r.name)).to.include("xtrinodes/status");
    const runtime: KubernetesObject & { spec: unknown } = {
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "rt", namespace: "default" },
      spec: { a: 1 },
    };
    const created = await objects.create(runtime);
    expect(created.metadata?.uid).to.be.a("string");
    const crds = await objects.list("apiextensions.k8s.io/v1", "CustomResourceDefinition");
    const crd = crds.items.find((c) => c.metadata?.name === "xtrinodes.xtrinode.io") as any;
    expect(crd.status.conditions.map((c: any) => c.type)).to.include("Established");
  });

  it("answers 404 for unknown groups and resources", async () => {
    const objects = KubernetesObjectApi.makeApiClient(ctx.kc);
    const failure = await apiError(() =>
      objects.read({ apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "x", namespace: "default" } }),
    );
    expect(failure.code).to.equal(404);
  });

  it("removes a kind when its CRD is deleted", async () => {
    const objects = KubernetesObjectApi.makeApiClient(ctx.kc);
    await objects.create(minimalCrd({ group: "example.test", kind: "Widget" }));
    await objects.create({ apiVersion: "example.test/v1", kind: "Widget", metadata: { name: "w", namespace: "default" } });
    await objects.delete({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.test" },
    });
    const custom = ctx.kc.makeApiClient(CustomObjectsApi);
    expect((await apiError(() => custom.getAPIResources({ group: "example.test", version: "v1" }))).code).to.equal(404);
  });
});
