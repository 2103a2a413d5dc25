// Unit tests of XTrinodeCatalog status (reconciler/catalog-status.ts), no network.
import { expect } from "chai";
import type { XTrinode, XTrinodeCatalog } from "../../renderer/types.ts";
import { catalogStatus, runtimesConcerned } from "../../reconciler/catalog-status.ts";
import type { KubeObject } from "../../reconciler/apply-decision.ts";

const lake = {
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodeCatalog",
  metadata: { name: "lake", namespace: "team-c", labels: { tier: "gold" }, generation: 3 },
  spec: { connector: "iceberg", secretProperties: { "s3.secret-key": { secretName: "creds", key: "secret" } } },
} as unknown as XTrinodeCatalog;
const runtime = (name: string, catalogs: unknown) =>
  ({
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "XTrinode",
    metadata: { name, namespace: "team-c" },
    spec: { catalogs },
  }) as unknown as XTrinode;

describe("reconciler: XTrinodeCatalog status", () => {
  const now = new Date("2026-11-24T12:00:00Z");

  it("lists the runtimes that select the catalog by name or label, skipping a runtime whose spec cannot be read", () => {
    const runtimes = [
      runtime("b", { selector: { matchLabels: { tier: "gold" } } }),
      runtime("a", { names: ["lake"] }),
      runtime("c", { names: ["other"] }),
      runtime("broken", { names: 42 }),
    ];
    const status = catalogStatus({ catalog: lake, runtimes, catalogs: [lake], secret: () => undefined, now });
    expect(status.usedBy).to.deep.equal(["a", "b"]);
    expect(status.observedGeneration).to.equal(3);
  });

  it("a catalog change concerns the runtimes that mounted it at their last reconcile and those that select it now, no others", () => {
    const mountedBefore = {
      ...runtime("was-by-label", { selector: { matchLabels: { tier: "silver" } } }),
      status: { catalogs: ["lake", "other"] },
    } as unknown as XTrinode;
    const runtimes = [mountedBefore, runtime("by-name", { names: ["lake"] }), runtime("unrelated", { names: ["other"] })];
    expect(runtimesConcerned(lake, runtimes, [lake])).to.deep.equal(["by-name", "was-by-label"]);
  });

  it("is Ready when every referenced Secret key exists (data or stringData), and keeps lastTransitionTime while unchanged", () => {
    const missingKey = { metadata: { name: "creds" }, data: { other: "eA==" } } as KubeObject;
    const notReady = catalogStatus({ catalog: lake, runtimes: [], catalogs: [lake], secret: () => missingKey, now });
    expect(notReady.conditions?.[0]).to.include({
      type: "Ready",
      status: "False",
      reason: "SecretNotFound",
      message: 'spec.secretProperties.s3.secret-key: Secret team-c/creds has no key "secret"; add the key',
    });

    const withKey = { metadata: { name: "creds" }, stringData: { secret: "x" } } as KubeObject;
    const ready = catalogStatus({ catalog: { ...lake, status: notReady }, runtimes: [], catalogs: [lake], secret: () => withKey, now });
    expect(ready.conditions?.[0]).to.include({
      type: "Ready",
      status: "True",
      reason: "SecretsFound",
      lastTransitionTime: now.toISOString(),
    });
    const later = catalogStatus({
      catalog: { ...lake, status: ready },
      runtimes: [],
      catalogs: [lake],
      secret: () => withKey,
      now: new Date("2026-11-24T13:00:00Z"),
    });
    expect(later.conditions?.[0].lastTransitionTime).to.equal(now.toISOString());
  });
});
