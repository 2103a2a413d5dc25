// Structural defaulting and pruning of custom resources: the CRD's `default`s are filled in on
// create, update, patch and apply, and on read (a default added to the CRD later shows on stored
// objects); unknown fields are pruned, or refused with fieldValidation=Strict.
import { expect } from "chai";
import { CustomObjectsApi, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { applyStructuralDefaults } from "../../fixtures/kube-api-server/crd-defaults.ts";
import { minimalCrd } from "../../fixtures/kube-api-server/index.ts";
import type { JsonObject } from "../../fixtures/kube-api-server/json.ts";
import { apiError, useServer } from "./support.ts";

type Obj = KubernetesObject & Record<string, any>;

const schema = (extra: JsonObject = {}): JsonObject => ({
  type: "object",
  properties: {
    spec: {
      type: "object",
      properties: {
        mode: { type: "string", default: "fixed" },
        workers: { type: "object", properties: { count: { type: "integer" }, grace: { type: "integer", default: 120 } } },
        items: { type: "array", items: { type: "object", properties: { weight: { type: "integer", default: 1 } } } },
        labels: { type: "object", additionalProperties: { type: "object", properties: { on: { type: "boolean", default: true } } } },
        ...extra,
      },
    },
  },
});

function widgetCrd(extra: JsonObject = {}): JsonObject {
  const crd = minimalCrd({ group: "example.io", kind: "Widget" });
  const version = ((crd.spec as JsonObject).versions as JsonObject[])[0];
  version.schema = { openAPIV3Schema: schema(extra) };
  return crd;
}

describe("kube-api-server: CRD structural defaults", () => {
  const ctx = useServer({ sim: { workloads: false }, crds: [widgetCrd()] });
  const custom = () => ctx.kc.makeApiClient(CustomObjectsApi);
  const widget = (name: string, spec: JsonObject): Obj => ({
    apiVersion: "example.io/v1",
    kind: "Widget",
    metadata: { name, namespace: "default" },
    spec,
  });

  it("applyStructuralDefaults: absent and non-nullable null get the default; nested, list and map values are defaulted; present values kept", () => {
    const value = {
      spec: { mode: null, workers: {}, items: [{}, { weight: 5 }], labels: { a: {}, b: { on: false } } },
    } as unknown as JsonObject;
    expect(applyStructuralDefaults(schema(), value)).to.deep.equal({
      spec: {
        mode: "fixed",
        workers: { grace: 120 },
        items: [{ weight: 1 }, { weight: 5 }],
        labels: { a: { on: true }, b: { on: false } },
      },
    });
    // An absent parent is not created: only defaults of present objects apply.
    expect(applyStructuralDefaults(schema(), { spec: {} })).to.deep.equal({ spec: { mode: "fixed" } });
  });

  it("fills defaults in on create, apply and patch", async () => {
    const created = (await custom().createNamespacedCustomObject({
      group: "example.io",
      version: "v1",
      namespace: "default",
      plural: "widgets",
      body: widget("c", { workers: {} }),
    })) as Obj;
    expect(created.spec).to.deep.equal({ mode: "fixed", workers: { grace: 120 } });
    const client = KubernetesObjectApi.makeApiClient(ctx.kc);
    const applied = await client.patch<Obj>(
      widget("a", { mode: "keda", workers: { count: 2 } }),
      undefined,
      undefined,
      "tester",
      true,
      PatchStrategy.ServerSideApply,
    );
    expect(applied.spec).to.deep.equal({ mode: "keda", workers: { count: 2, grace: 120 } });
    // Defaulted fields belong to no manager: the applier owns only what it sent.
    expect(JSON.stringify(applied.metadata?.managedFields)).not.to.contain("f:grace");
    const patched = await client.patch<Obj>(
      widget("c", { items: [{}] }),
      undefined,
      undefined,
      "tester",
      undefined,
      PatchStrategy.MergePatch,
    );
    expect(patched.spec.items).to.deep.equal([{ weight: 1 }]);
  });

  it("an applier that stops applying an object removes it whole, defaulted fields included (real prune)", async () => {
    const client = KubernetesObjectApi.makeApiClient(ctx.kc);
    const apply = (spec: JsonObject) =>
      client.patch<Obj>(widget("p", spec), undefined, undefined, "tester", true, PatchStrategy.ServerSideApply);
    expect((await apply({ mode: "keda", workers: { count: 2 } })).spec.workers).to.deep.equal({ count: 2, grace: 120 });
    const after = await apply({ mode: "fixed" });
    expect(after.spec).to.deep.equal({ mode: "fixed" });
  });

  it("prunes fields the schema does not define, or refuses them with fieldValidation=Strict naming each", async () => {
    const body = widget("u", { mode: "keda", colour: "blue", workers: { count: 1, typo: true } });
    const created = (await custom().createNamespacedCustomObject({
      group: "example.io",
      version: "v1",
      namespace: "default",
      plural: "widgets",
      body,
    })) as Obj;
    expect(created.spec).to.deep.equal({ mode: "keda", workers: { count: 1, grace: 120 } });
    const strict = await apiError(() =>
      custom().createNamespacedCustomObject({
        group: "example.io",
        version: "v1",
        namespace: "default",
        plural: "widgets",
        body: { ...body, metadata: { name: "s", namespace: "default" } },
        fieldValidation: "Strict",
      }),
    );
    expect(strict.code).to.equal(400);
    expect(strict.body.message).to.equal('strict decoding error: unknown field "spec.colour", unknown field "spec.workers.typo"');
  });

  it("defaults on read: a default added to the CRD later shows on objects stored before", async () => {
    await custom().createNamespacedCustomObject({
      group: "example.io",
      version: "v1",
      namespace: "default",
      plural: "widgets",
      body: widget("r", {}),
    });
    ctx.server.registerCrds([widgetCrd({ tier: { type: "string", default: "standard" } })]);
    const read = (await custom().getNamespacedCustomObject({
      group: "example.io",
      version: "v1",
      namespace: "default",
      plural: "widgets",
      name: "r",
    })) as Obj;
    expect(read.spec).to.deep.equal({ mode: "fixed", tier: "standard" });
  });
});
