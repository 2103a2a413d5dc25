// The ClusterClient over @kubernetes/client-node sends and reads objects as plain JSON: client-node's
// typed models rename some JSON fields (LimitRangeItem.default → `_default`, NetworkPolicyIngressRule.from
// → `_from`) and would drop them from request bodies and rename them in responses.
import { expect } from "chai";
import { minimalCrd } from "../../fixtures/kube-api-server/index.ts";
import { guardrailsLabel } from "../../schemas/api/index.ts";
import { fieldManager } from "../../reconciler/constants.ts";
import type { KubeObject } from "../../reconciler/apply-decision.ts";
import { reconcile, runtime, startCluster, staticPolicy, testContext, testPolicy, tick, TestClock, type Cluster } from "./support.ts";

const limitRange = (name: string, memory: string): KubeObject => ({
  apiVersion: "v1",
  kind: "LimitRange",
  metadata: { name, namespace: "team-a" },
  spec: { limits: [{ type: "Container", default: { memory }, defaultRequest: { cpu: "500m" } }] },
});

describe("reconciler: ClusterClient sends and reads objects exactly as rendered", function () {
  this.timeout(30_000);
  let cluster: Cluster;
  beforeEach(async () => {
    // NetworkPolicy is not among the test server's kinds; served like a CRD, it is still a built-in
    // group to client-node (so its typed model would apply).
    cluster = await startCluster({
      crds: [minimalCrd({ group: "networking.k8s.io", kind: "NetworkPolicy", versions: ["v1"], status: false })],
    });
  });
  afterEach(async () => {
    await cluster.close();
  });

  it("a LimitRange's `default` survives apply, create, replace, merge patch, get and list", async () => {
    const ref = { apiVersion: "v1", kind: "LimitRange", namespace: "team-a", name: "applied" };
    const applied = await cluster.client.apply(limitRange("applied", "2Gi"));
    expect((applied.spec as { limits: unknown[] }).limits[0])
      .to.deep.include({ default: { memory: "2Gi" } })
      .and.not.have.property("_default");
    const read = await cluster.client.get(ref);
    expect(read!.spec).to.deep.equal({ limits: [{ type: "Container", default: { memory: "2Gi" }, defaultRequest: { cpu: "500m" } }] });

    const created = await cluster.client.create(limitRange("created", "1Gi"));
    expect(JSON.stringify(created.spec)).to.contain('"default":{"memory":"1Gi"}').and.not.contain("_default");
    const replaced = await cluster.client.replace({ ...created, spec: { limits: [{ type: "Container", default: { memory: "3Gi" } }] } });
    expect(replaced.spec).to.deep.equal({ limits: [{ type: "Container", default: { memory: "3Gi" } }] });
    await cluster.client.mergePatch({ ...ref, name: "created" }, { spec: { limits: [{ type: "Container", default: { memory: "4Gi" } }] } });

    const listed = await cluster.client.list("v1", "LimitRange", "team-a");
    expect(listed.map((o) => [o.metadata!.name, JSON.stringify(o.spec)])).to.deep.equal([
      ["applied", JSON.stringify({ limits: [{ type: "Container", default: { memory: "2Gi" }, defaultRequest: { cpu: "500m" } }] })],
      ["created", JSON.stringify({ limits: [{ type: "Container", default: { memory: "4Gi" } }] })],
    ]);
    // Timestamps stay JSON strings (the reconciler compares JSON).
    expect(read!.metadata!.creationTimestamp).to.be.a("string");
  });

  it("other renamed model fields (NetworkPolicy ingress `from`) pass through too", async () => {
    const policy: KubeObject = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "np", namespace: "team-a" },
      spec: { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: "gw" } } }] }] },
    };
    const applied = await cluster.client.apply(policy);
    expect(applied.spec).to.deep.equal(policy.spec);
    expect(
      (await cluster.client.get({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", namespace: "team-a", name: "np" }))!.spec,
    ).to.deep.equal(policy.spec);
  });

  it("the policy's LimitRange defaults reach the cluster, and a second reconcile writes nothing", async () => {
    const policy = staticPolicy({
      ...testPolicy,
      defaults: {
        ...testPolicy.defaults,
        defaultResources: { limits: { memory: "3Gi" }, requests: { cpu: "250m" } },
        maxResources: { memory: "64Gi" },
      },
    });
    const clock = new TestClock();
    const ctx = testContext(cluster, clock, policy);
    // Sized explicitly, so the LimitRange's default limit does not bear on the JVM heap checks.
    const sized = { resources: { limits: { memory: "16Gi" } }, jvm: { maxHeapSize: "12G" } };
    await cluster.client.create(runtime("team-a", "bi", { coordinator: sized, workers: { mode: "fixed", count: 1, ...sized } }));
    for (let i = 0; i < 5; i++) {
      await reconcile(ctx, "team-a", "bi");
      await tick();
    }
    const [guardrail] = await cluster.client.list("v1", "LimitRange", "team-a", guardrailsLabel);
    expect(guardrail, "the guardrail LimitRange").to.not.equal(undefined);
    expect((guardrail.spec as { limits: Array<Record<string, unknown>> }).limits[0]).to.deep.include({
      default: { memory: "3Gi" },
      defaultRequest: { cpu: "250m" },
      max: { memory: "64Gi" },
    });

    cluster.server.requestLog.clear();
    clock.advance(60_000);
    const result = await reconcile(ctx, "team-a", "bi");
    expect(result.phase).to.equal("Ready");
    expect(result.writes).to.equal(0);
    expect(cluster.server.requestLog.writes({ fieldManager })).to.deep.equal([]);
    expect(cluster.server.requestLog.writes()).to.deep.equal([]);
  });
});
