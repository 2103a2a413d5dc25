// Lists merged by key across field managers (issue 16), against the Kubernetes API test server: another
// manager adds a sidecar container and an env var to an operator-owned Deployment; the operator's resync sees
// no difference and writes nothing, and when it must re-apply, the other manager's items stay. The same
// requests run against a real kube-apiserver in test/real-k8s/control-plane.test.ts.
import { expect } from "chai";
import { addedEnvVar, applyAsOtherManagers, otherManagersAdditions, podTemplateSummary, sidecarName } from "../support/other-managers.ts";
import { reconcile, reconcileTo, runtime, startCluster, TestClock, testContext, type Cluster } from "./support.ts";

describe("reconciler: lists other field managers add to (keyed list merge)", function () {
  this.timeout(30_000);
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.close();
  });

  it("a sidecar container and an env var from other managers: 0 writes on resync; a re-apply after drift keeps them", async () => {
    const clock = new TestClock();
    const ctx = testContext(cluster, clock);
    await cluster.client.create(runtime("team-a", "bi"));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    const deployment = { namespace: "team-a", name: "bi-trino-coordinator", container: "trino-coordinator" };
    const ref = { apiVersion: "apps/v1", kind: "Deployment", namespace: deployment.namespace, name: deployment.name };
    await applyAsOtherManagers(cluster.kubeConfig, otherManagersAdditions(deployment));
    const containers = [deployment.container, sidecarName].sort();
    const summary = async () => podTemplateSummary(await cluster.client.get(ref), deployment.container);
    const merged = await summary();
    expect(merged.containers, "the test server merged the sidecar in").to.deep.equal(containers);
    expect(merged.env, "the test server merged the env var in").to.include(addedEnvVar);

    cluster.server.requestLog.clear();
    clock.advance(60_000);
    const resync = await reconcile(ctx, "team-a", "bi");
    expect(resync.phase).to.equal("Ready");
    expect(cluster.server.requestLog.writes().map((e) => `${e.method} ${e.path}`)).to.deep.equal([]);
    expect(resync.writes).to.equal(0);

    // An operator-owned field drifts: the operator re-applies, and only that field changes back.
    await cluster.client.mergePatch(ref, { spec: { progressDeadlineSeconds: 601 } });
    cluster.server.requestLog.clear();
    clock.advance(60_000);
    await reconcile(ctx, "team-a", "bi");
    expect(cluster.server.requestLog.writes({ pathPrefix: "/apis/apps" }).map((e) => `${e.method} ${e.path}`)).to.deep.equal([
      `PATCH /apis/apps/v1/namespaces/team-a/deployments/${deployment.name}`,
    ]);
    expect(((await cluster.client.get(ref))!.spec as { progressDeadlineSeconds: number }).progressDeadlineSeconds).to.equal(600);
    expect((await summary()).containers).to.deep.equal(containers);
    expect((await summary()).env).to.include(addedEnvVar);
  });
});
