import { expect } from "chai";
import {
  AppsV1Api,
  CoreV1Api,
  HttpMethod,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1ConfigMap,
} from "@kubernetes/client-node";
import { minimalCrd } from "../../fixtures/kube-api-server/index.ts";
import { RawObjectApi } from "../../reconciler/kube-client.ts";
import { apiError, useServer } from "./support.ts";

type Obj = KubernetesObject & Record<string, any>;

describe("kube-api-server: server-side apply and patches", () => {
  const ctx = useServer({ sim: { workloads: false } });
  let objects: KubernetesObjectApi;
  const apply = (body: Obj, manager: string, force = false) =>
    objects.patch<Obj>(body, undefined, undefined, manager, force, PatchStrategy.ServerSideApply);
  const cm = (name: string, data: Record<string, string>, labels?: Record<string, string>): Obj => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default", ...(labels ? { labels } : {}) },
    data,
  });

  before(() => {
    objects = KubernetesObjectApi.makeApiClient(ctx.kc);
  });

  it("creates on apply and records the manager's fields", async () => {
    ctx.server.requestLog.clear();
    const created = await apply(cm("ssa", { a: "1", b: "2" }, { owner: "op" }), "operator");
    expect(created.data).to.deep.equal({ a: "1", b: "2" });
    const entry = created.metadata!.managedFields!.find((m) => m.manager === "operator")!;
    expect(entry.operation).to.equal("Apply");
    expect(entry.fieldsV1).to.deep.equal({ "f:data": { "f:a": {}, "f:b": {} }, "f:metadata": { "f:labels": { "f:owner": {} } } });
    const [logged] = ctx.server.requestLog.writes();
    expect(logged).to.include({ method: "PATCH", fieldManager: "operator", contentType: "application/apply-patch+yaml", status: 201 });
  });

  it("does not change resourceVersion for an identical apply", async () => {
    const before = await objects.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ssa", namespace: "default" } });
    const again = await apply(cm("ssa", { a: "1", b: "2" }, { owner: "op" }), "operator");
    expect(again.metadata!.resourceVersion).to.equal(before.metadata!.resourceVersion);
  });

  it("removes fields a manager stops applying and keeps fields others own", async () => {
    const core = ctx.kc.makeApiClient(CoreV1Api);
    await core.patchNamespacedConfigMap(
      { name: "ssa", namespace: "default", body: { data: { c: "3" } }, fieldManager: "kubectl-edit" },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const updated = await apply(cm("ssa", { a: "1" }, { owner: "op" }), "operator");
    expect(updated.data).to.deep.equal({ a: "1", c: "3" });
    const managers = updated.metadata!.managedFields!.map((m) => `${m.manager}:${m.operation}`);
    expect(managers).to.have.members(["operator:Apply", "kubectl-edit:Update"]);
  });

  it("reports a conflict with the owning manager unless forced", async () => {
    await apply(cm("owned", { shared: "x" }), "alice");
    const conflict = await apiError(() => apply(cm("owned", { shared: "y" }), "bob"));
    expect(conflict.code).to.equal(409);
    expect(conflict.body.reason).to.equal("Conflict");
    expect(conflict.body.message).to.contain('conflict with "alice"');
    expect(conflict.body.details.causes[0]).to.include({ reason: "FieldManagerConflict", field: ".data.shared" });
    const same = await apply(cm("owned", { shared: "x" }), "bob");
    expect(same.data).to.deep.equal({ shared: "x" });
    const forced = await apply(cm("owned", { shared: "z" }), "bob", true);
    expect(forced.data).to.deep.equal({ shared: "z" });
    const alice = forced.metadata!.managedFields!.find((m) => m.manager === "alice");
    expect(alice).to.equal(undefined);
  });

  it("requires a field manager for apply", async () => {
    const failure = await apiError(() =>
      objects.patch(cm("nomanager", { a: "1" }), undefined, undefined, undefined, undefined, PatchStrategy.ServerSideApply),
    );
    expect(failure.code).to.equal(400);
  });

  it("bumps generation only when applied spec changes", async () => {
    const d = (replicas: number): Obj => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        replicas,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "i" }] } },
      },
    });
    const first = await apply(d(1), "operator");
    const same = await apply(d(1), "operator");
    const scaled = await apply(d(2), "operator");
    expect([first.metadata!.generation, same.metadata!.generation, scaled.metadata!.generation]).to.deep.equal([1, 1, 2]);
    const apps = ctx.kc.makeApiClient(AppsV1Api);
    const hpaOwned = await apps.patchNamespacedDeployment(
      { name: "web", namespace: "default", body: { spec: { replicas: 5 } }, fieldManager: "hpa" },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(hpaOwned.spec?.replicas).to.equal(5);
    const conflict = await apiError(() => apply(d(2), "operator"));
    expect(conflict.body.details.causes.map((c: any) => c.field)).to.deep.equal([".spec.replicas"]);
  });

  it("applies the status subresource of a custom resource separately from its spec", async () => {
    ctx.server.registerCrds([minimalCrd({ group: "xtrinode.io", kind: "XTrinode", versions: ["v1alpha1"] })]);
    const runtime = (spec: Record<string, unknown>, status?: Record<string, unknown>): Obj => ({
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "rt", namespace: "default" },
      spec,
      ...(status ? { status } : {}),
    });
    const created = await apply(runtime({ workers: 2 }, { phase: "ignored-on-main" }), "operator");
    expect(created.status).to.equal(undefined);
    const custom = ctx.kc.makeApiClient(CustomObjectsApi);
    const withStatus = (await custom.patchNamespacedCustomObjectStatus(
      {
        group: "xtrinode.io",
        version: "v1alpha1",
        namespace: "default",
        plural: "xtrinodes",
        name: "rt",
        body: runtime({ workers: 99 }, { phase: "Ready" }),
        fieldManager: "operator",
        force: true,
      },
      setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
    )) as Obj;
    expect(withStatus.status).to.deep.equal({ phase: "Ready" });
    expect(withStatus.spec).to.deep.equal({ workers: 2 });
    expect(withStatus.metadata!.generation).to.equal(1);
    const statusEntry = withStatus.metadata!.managedFields!.find((m) => m.subresource === "status")!;
    expect(statusEntry).to.include({ manager: "operator", operation: "Apply" });
    expect(statusEntry.fieldsV1).to.deep.equal({ "f:status": { "f:phase": {} } });
    const specAgain = await apply(runtime({ workers: 2 }), "operator");
    expect(specAgain.status).to.deep.equal({ phase: "Ready" });
    expect(specAgain.metadata!.resourceVersion).to.equal(withStatus.metadata!.resourceVersion);
  });

  describe("lists merged by key across field managers (lib/list-merge-keys.ts), as kube-apiserver v1.37 does", () => {
    // Each expectation below is what a real v1.37 answered to the same requests (recorded with test/real-k8s's harness).
    const deployment = (containers: Obj[]): Obj => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "keyed", namespace: "default" },
      spec: {
        selector: { matchLabels: { a: "b" } },
        template: { metadata: { labels: { a: "b" } }, spec: { containers, volumes: [{ name: "cfg", configMap: { name: "x" } }] } },
      },
    });
    const partial = (containers: Obj[]): Obj => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "keyed", namespace: "default" },
      spec: { template: { spec: { containers } } },
    });
    const trino = {
      name: "trino",
      image: "trino:1",
      env: [{ name: "A", value: "1" }],
      ports: [{ name: "http", containerPort: 8080 }],
      volumeMounts: [{ name: "cfg", mountPath: "/etc/trino" }],
    };
    const item = (fields: object) => ({ ".": {}, ...fields });
    const containersOwnedBy = (object: Obj, manager: string) =>
      (object.metadata!.managedFields!.find((m) => m.manager === manager)?.fieldsV1 as Obj)["f:spec"]["f:template"]["f:spec"][
        "f:containers"
      ];
    const summary = (object: Obj) => object.spec.template.spec.containers.map((c: Obj) => [c.name, (c.env ?? []).map((e: Obj) => e.name)]);

    it("records items by key, merges another manager's sidecar and env var in, and a re-apply changes nothing", async () => {
      const created = await apply(deployment([trino]), "operator", true);
      expect(containersOwnedBy(created, "operator")).to.deep.equal({
        'k:{"name":"trino"}': item({
          "f:env": { 'k:{"name":"A"}': item({ "f:name": {}, "f:value": {} }) },
          "f:image": {},
          "f:name": {},
          "f:ports": { 'k:{"containerPort":8080,"protocol":"TCP"}': item({ "f:containerPort": {}, "f:name": {} }) },
          "f:volumeMounts": { 'k:{"mountPath":"/etc/trino"}': item({ "f:mountPath": {}, "f:name": {} }) },
        }),
      });
      const injected = await apply(
        partial([
          { name: "sidecar", image: "side:1" },
          { name: "trino", env: [{ name: "EXTRA", value: "x" }] },
        ]),
        "injector",
      );
      expect(summary(injected)).to.deep.equal([
        ["sidecar", []],
        ["trino", ["A", "EXTRA"]],
      ]);
      expect(containersOwnedBy(injected, "injector")).to.deep.equal({
        'k:{"name":"sidecar"}': item({ "f:image": {}, "f:name": {} }),
        'k:{"name":"trino"}': item({ "f:env": { 'k:{"name":"EXTRA"}': item({ "f:name": {}, "f:value": {} }) }, "f:name": {} }),
      });
      const again = await apply(deployment([trino]), "operator", true);
      expect(again.metadata!.resourceVersion).to.equal(injected.metadata!.resourceVersion);
      expect(summary(again)).to.deep.equal([
        ["sidecar", []],
        ["trino", ["A", "EXTRA"]],
      ]);
    });

    it("an item the manager stops applying goes, another manager's item in the same list stays", async () => {
      const dropped = await apply(deployment([{ ...trino, env: [] }]), "operator", true);
      expect(summary(dropped)).to.deep.equal([
        ["sidecar", []],
        ["trino", ["EXTRA"]],
      ]);
      expect(containersOwnedBy(dropped, "operator")['k:{"name":"trino"}']).to.not.have.property("f:env");
    });

    it("a changed value of another manager's item is a conflict on that item's field only", async () => {
      const conflict = await apiError(() => apply(partial([{ name: "sidecar", image: "side:2" }]), "operator"));
      expect(conflict.code).to.equal(409);
      expect(conflict.body.details.causes.map((c: Obj) => c.field)).to.deep.equal(['.spec.template.spec.containers[name="sidecar"].image']);
    });

    it("Service ports merge by port and protocol (a missing protocol keys as TCP)", async () => {
      const service = (ports: Obj[]): Obj => ({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "keyed", namespace: "default" },
        spec: { ports },
      });
      await apply(
        {
          ...service([{ name: "http", port: 80, targetPort: "http" }]),
          spec: { selector: { a: "b" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
        },
        "operator",
        true,
      );
      const both = await apply(service([{ name: "m", port: 9090, protocol: "TCP" }]), "other");
      expect(both.spec.ports.map((p: Obj) => [p.name, p.port, p.protocol])).to.deep.equal([
        ["http", 80, "TCP"],
        ["m", 9090, "TCP"],
      ]);
      const owned = Object.fromEntries(
        both.metadata!.managedFields!.map((m) => [m.manager, Object.keys((m.fieldsV1 as Obj)["f:spec"]["f:ports"])]),
      );
      expect(owned).to.deep.equal({ operator: ['k:{"port":80,"protocol":"TCP"}'], other: ['k:{"port":9090,"protocol":"TCP"}'] });
      const conflict = await apiError(() => apply(service([{ name: "x", port: 80 }]), "other"));
      expect(conflict.body.details.causes.map((c: Obj) => c.field)).to.deep.equal(['.spec.ports[port=80,protocol="TCP"].name']);
    });
  });

  it("strategic merge patch merges keyed lists by their patch merge key, in the order v1.37 gives", async () => {
    const ref = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "strategic", namespace: "default" } };
    await apply(
      {
        ...ref,
        spec: {
          selector: { matchLabels: { a: "b" } },
          template: {
            metadata: { labels: { a: "b" } },
            spec: {
              containers: [
                {
                  name: "trino",
                  image: "t",
                  env: [
                    { name: "A", value: "1" },
                    { name: "B", value: "2" },
                  ],
                  ports: [{ containerPort: 80, name: "x" }],
                },
              ],
            },
          },
        },
      },
      "operator",
      true,
    );
    const patch = async (spec: Obj) => {
      // RawObjectApi: client-node's typed serializer would drop the "$patch" and "$setElementOrder" directives.
      const patched: Obj = await RawObjectApi.fromKubeConfig(ctx.kc).send(
        HttpMethod.PATCH,
        "patch",
        { ...ref, spec: { template: { spec } } } as Obj,
        { fieldManager: "kubectl-patch" },
        PatchStrategy.StrategicMergePatch,
      );
      return patched.spec.template.spec.containers.map((c: Obj) => [
        c.name,
        c.env?.map((e: Obj) => `${e.name}=${e.value}`),
        c.ports?.map((p: Obj) => `${p.name}:${p.containerPort}`),
      ]);
    };
    // Each answer below is what a real v1.37 returned for the same sequence of patches.
    expect(
      await patch({
        containers: [
          {
            name: "trino",
            env: [
              { name: "S", value: "s" },
              { name: "A", value: "9" },
            ],
          },
        ],
      }),
    ).to.deep.equal([["trino", ["S=s", "A=9", "B=2"], ["x:80"]]]);
    expect(await patch({ containers: [{ name: "side", image: "s" }] })).to.deep.equal([
      ["side", undefined, undefined],
      ["trino", ["S=s", "A=9", "B=2"], ["x:80"]],
    ]);
    expect(await patch({ containers: [{ name: "trino", env: [{ name: "B", $patch: "delete" }] }] })).to.deep.equal([
      ["side", undefined, undefined],
      ["trino", ["S=s", "A=9"], ["x:80"]],
    ]);
    expect(await patch({ containers: [{ name: "trino", env: [{ $patch: "replace" }, { name: "Z", value: "z" }] }] })).to.deep.equal([
      ["side", undefined, undefined],
      ["trino", ["Z=z"], ["x:80"]],
    ]);
    expect(await patch({ containers: [{ name: "trino", ports: [{ containerPort: 80, name: "y" }] }] })).to.deep.equal([
      ["side", undefined, undefined],
      ["trino", ["Z=z"], ["y:80"]],
    ]);
    expect(
      await patch({ "$setElementOrder/containers": [{ name: "side" }, { name: "trino" }], containers: [{ name: "trino", image: "t2" }] }),
    ).to.deep.equal([
      ["side", undefined, undefined],
      ["trino", ["Z=z"], ["y:80"]],
    ]);
  });

  it("applies JSON merge, strategic merge and JSON patches", async () => {
    const core = ctx.kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "patchme" }, data: { a: "1", b: "2" } } });
    const merged = await core.patchNamespacedConfigMap(
      { name: "patchme", namespace: "default", body: { data: { a: null, c: "3" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(merged.data).to.deep.equal({ b: "2", c: "3" });
    const strategic = await core.patchNamespacedConfigMap(
      { name: "patchme", namespace: "default", body: { metadata: { labels: { s: "1" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(strategic.metadata?.labels).to.deep.equal({ s: "1" });
    const jsonPatched: V1ConfigMap = await core.patchNamespacedConfigMap(
      {
        name: "patchme",
        namespace: "default",
        body: [
          { op: "test", path: "/data/b", value: "2" },
          { op: "replace", path: "/data/b", value: "20" },
          { op: "add", path: "/data/d", value: "4" },
          { op: "remove", path: "/data/c" },
        ],
      },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    expect(jsonPatched.data).to.deep.equal({ b: "20", d: "4" });
    const failedTest = await apiError(() =>
      core.patchNamespacedConfigMap(
        { name: "patchme", namespace: "default", body: [{ op: "test", path: "/data/b", value: "nope" }] },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      ),
    );
    expect(failedTest.code).to.equal(422);
    const stale = await apiError(() =>
      core.patchNamespacedConfigMap(
        { name: "patchme", namespace: "default", body: { metadata: { resourceVersion: "1" }, data: { z: "1" } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect(stale.code).to.equal(409);
  });
});
