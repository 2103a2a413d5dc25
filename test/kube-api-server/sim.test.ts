import { expect } from "chai";
import { AppsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { ReadyEvent } from "../../fixtures/kube-api-server/index.ts";
import { useServer, deployment } from "./support.ts";
import { eventually } from "../support/eventually.ts";

describe("kube-api-server: controller simulation", () => {
  const ctx = useServer();
  let apps: AppsV1Api;
  before(() => {
    apps = ctx.kc.makeApiClient(AppsV1Api);
    ctx.server.registerThirdPartyCrds();
  });
  afterEach(() => {
    ctx.server.sim.setDeploymentReadyDelay(0);
    ctx.server.sim.options.nodePoolPolicy = "ready";
  });

  const readDeployment = (name: string) => apps.readNamespacedDeployment({ name, namespace: "default" });

  it("reports Deployment replicas ready, follows scale changes and calls the ready hook", async () => {
    const events: ReadyEvent[] = [];
    const off = ctx.server.sim.onWorkloadReady((e) => events.push(e));
    try {
      await apps.createNamespacedDeployment({ namespace: "default", body: deployment("coordinator", 1) });
      const ready = await eventually("Deployment coordinator ready with 1 replica", async () => {
        const d = await readDeployment("coordinator");
        return d.status?.readyReplicas === 1 ? d : undefined;
      });
      expect(ready.status).to.include({ replicas: 1, availableReplicas: 1, observedGeneration: 1 });
      await apps.patchNamespacedDeployment(
        { name: "coordinator", namespace: "default", body: { spec: { replicas: 3 } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await eventually(
        "Deployment coordinator ready with 3 replicas",
        async () => (await readDeployment("coordinator")).status?.readyReplicas === 3,
      );
      await apps.patchNamespacedDeployment(
        { name: "coordinator", namespace: "default", body: { spec: { replicas: 0 } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      const scaledDown = await eventually("Deployment coordinator to observe generation 3 (scaled to 0)", async () => {
        const d = await readDeployment("coordinator");
        return d.status?.observedGeneration === 3 ? d : undefined;
      });
      expect(scaledDown.status?.readyReplicas).to.equal(undefined);
      expect(events.map((e) => `${e.kind}/${e.name}=${e.replicas}`)).to.deep.equal([
        "Deployment/coordinator=1",
        "Deployment/coordinator=3",
        "Deployment/coordinator=0",
      ]);
    } finally {
      off();
    }
  });

  it("keeps a Deployment unready when its delay is 'never' until marked ready", async () => {
    ctx.server.sim.setWorkloadReadyDelay("default", "stuck", null);
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("stuck", 2) });
    const pending = await eventually("Deployment stuck to report 2 replicas", async () => {
      const d = await readDeployment("stuck");
      return d.status?.replicas === 2 ? d : undefined;
    });
    expect(pending.status?.readyReplicas).to.equal(undefined);
    expect(pending.status?.conditions?.find((c) => c.type === "Available")?.status).to.equal("False");
    await new Promise((r) => setTimeout(r, 50));
    expect((await readDeployment("stuck")).status?.readyReplicas).to.equal(undefined);
    ctx.server.sim.markWorkloadReady("Deployment", "default", "stuck");
    expect((await readDeployment("stuck")).status?.readyReplicas).to.equal(2);
  });

  it("applies the default delay to StatefulSets too", async () => {
    ctx.server.sim.setDeploymentReadyDelay(30);
    const sts = deployment("workers", 2);
    await apps.createNamespacedStatefulSet({
      namespace: "default",
      body: { metadata: sts.metadata, spec: { ...sts.spec!, serviceName: "workers" } },
    });
    const first = await apps.readNamespacedStatefulSet({ name: "workers", namespace: "default" });
    expect(first.status?.readyReplicas).to.equal(undefined);
    await eventually(
      "StatefulSet workers ready with 2 replicas",
      async () => (await apps.readNamespacedStatefulSet({ name: "workers", namespace: "default" })).status?.readyReplicas === 2,
    );
  });

  it("makes node pools Running by default, Failed on command, and waits in manual mode", async () => {
    const custom = ctx.kc.makeApiClient(CustomObjectsApi);
    const ref = { group: "cluster.x-k8s.io", version: "v1beta1", namespace: "default", plural: "machinedeployments" };
    const pool = (name: string) => ({
      apiVersion: "cluster.x-k8s.io/v1beta1",
      kind: "MachineDeployment",
      metadata: { name },
      spec: { replicas: 2, clusterName: "c" },
    });
    const status = async (name: string) => ((await custom.getNamespacedCustomObject({ ...ref, name })) as any).status ?? {};
    await custom.createNamespacedCustomObject({ ...ref, body: pool("pool-ok") });
    await eventually("node pool pool-ok Running", async () => (await status("pool-ok")).phase === "Running");
    expect(await status("pool-ok")).to.include({ readyReplicas: 2 });

    ctx.server.sim.failNodePool("default", "pool-bad", "quota exceeded");
    await custom.createNamespacedCustomObject({ ...ref, body: pool("pool-bad") });
    await eventually("node pool pool-bad Failed", async () => (await status("pool-bad")).phase === "Failed");
    expect(await status("pool-bad")).to.include({ failureMessage: "quota exceeded" });

    ctx.server.sim.options.nodePoolPolicy = "manual";
    await custom.createNamespacedCustomObject({ ...ref, body: pool("pool-wait") });
    await eventually("node pool pool-wait ScalingUp", async () => (await status("pool-wait")).phase === "ScalingUp");
    ctx.server.sim.markNodePoolReady("default", "pool-wait");
    expect(await status("pool-wait")).to.include({ phase: "Running", readyReplicas: 2 });
  });
});
