// clusterDiff (`xtrinode diff --kubeconfig`): what `xtrinode apply` would change, as a unified diff.
import { expect } from "chai";
import yaml from "js-yaml";
import { clusterDiff, project } from "../../reconciler/apply-preview.ts";
import { configMapPolicySource } from "../../reconciler/policy.ts";
import { gatewayNamespace, reconcile, runtime, startCluster, testContext, testPolicy, tick, type Cluster } from "./support.ts";

describe("reconciler: clusterDiff", function () {
  this.timeout(30_000);
  let cluster: Cluster;
  beforeEach(async () => {
    cluster = await startCluster();
    // The in-cluster policy source: ConfigMap xtrinode-policy in xtrinode-system.
    await cluster.client.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "xtrinode-policy", namespace: "xtrinode-system" },
      data: { "policy.yaml": yaml.dump(testPolicy) },
    });
  });
  afterEach(async () => {
    await cluster.close();
  });

  async function converge(name: string): Promise<void> {
    const policy = configMapPolicySource(cluster.client, "xtrinode-system");
    await policy.reload();
    expect(policy.current()).to.deep.equal(testPolicy);
    const ctx = testContext(cluster, undefined, policy);
    await reconcile(ctx, "team-a", name);
    await tick();
    await reconcile(ctx, "team-a", name);
  }

  it("reports no change for a converged runtime and a unified diff of exactly what a spec change would write", async () => {
    await cluster.client.create(runtime("team-a", "bi", { workers: { mode: "fixed", count: 1 } }));
    await converge("bi");
    const clean = await clusterDiff({ kubeConfig: cluster.kubeConfig, gatewayNamespace });
    expect(clean).to.deep.equal({ text: "", changed: false });

    await cluster.client.mergePatch(
      { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: "team-a", name: "bi" },
      { spec: { workers: { count: 3 } } },
    );
    const changed = await clusterDiff({ kubeConfig: cluster.kubeConfig, gatewayNamespace });
    expect(changed.changed).to.equal(true);
    expect(changed.text).to.contain("--- live/apps/Deployment/team-a/bi-trino-worker");
    expect(changed.text).to.match(/^-\s+replicas: 1$/m);
    expect(changed.text).to.match(/^\+\s+replicas: 3$/m);
    expect(changed.text).to.not.contain("bi-trino-coordinator\n"); // the coordinator is unaffected
  });

  it("projects the live side of keyed lists by key: another manager's sidecar and env var are left out, our items kept in live order", () => {
    const deployment = (containers: object[]) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      spec: { template: { spec: { containers } } },
    });
    const desired = deployment([{ name: "trino", image: "trino:480", env: [{ name: "A", value: "1" }], args: ["x"] }]);
    const live = deployment([
      { name: "sidecar", image: "proxy:1" },
      {
        name: "trino",
        image: "trino:479",
        imagePullPolicy: "IfNotPresent",
        env: [
          { name: "EXTRA", value: "on" },
          { name: "A", value: "1" },
        ],
        args: ["x", "y"],
      },
    ]);
    expect(project(live, desired)).to.deep.equal(
      deployment([{ name: "trino", image: "trino:479", env: [{ name: "A", value: "1" }], args: ["x", "y"] }]),
    );
  });

  it("shows a new runtime's objects and route as additions, and names a runtime it cannot render", async () => {
    await cluster.client.create(runtime("team-a", "fresh"));
    await cluster.client.create(runtime("team-a", "broken", { workers: { mode: "fixed", count: -1 } }));
    cluster.server.requestLog.clear();
    const result = await clusterDiff({ kubeConfig: cluster.kubeConfig, gatewayNamespace });
    expect(cluster.server.requestLog.writes()).to.deep.equal([]); // diff never writes
    expect(result.changed).to.equal(true);
    expect(result.text).to.contain("+++ desired/apps/Deployment/team-a/fresh-trino-coordinator");
    expect(result.text).to.contain(`+++ desired/${gatewayNamespace}/trino-gateway-routes#team-a/fresh`);
    expect(result.text).to.match(/# XTrinode team-a\/broken: not applicable: .*spec\.workers\.count/);
  });
});
