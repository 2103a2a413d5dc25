import { expect } from "chai";
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { canonicalQuantity } from "../../fixtures/kube-api-server/defaults.ts";
import { apiError, useServer } from "./support.ts";

type Obj = KubernetesObject & Record<string, any>;

function workerDeployment(replicas: number | undefined, cpu: string): Obj {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "workers", namespace: "default" },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: { app: "workers" } },
      template: {
        metadata: { labels: { app: "workers" } },
        spec: {
          containers: [
            {
              name: "trino",
              image: "trinodb/trino:476",
              resources: { requests: { cpu, memory: "2048Mi" } },
              ports: [{ containerPort: 8080 }],
            },
          ],
        },
      },
    },
  };
}

describe("kube-api-server: defaulting and canonical quantities", () => {
  const ctx = useServer({ sim: { workloads: false } });
  const apply = (obj: Obj) =>
    KubernetesObjectApi.makeApiClient(ctx.kc).patch<Obj>(obj, undefined, undefined, "operator", true, PatchStrategy.ServerSideApply);

  it("refuses a numeric quantity on server-side apply with the real server's 500 typed patch error; JSON create takes it", async () => {
    const quota = (pods: number | string): Obj => ({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "q", namespace: "default" },
      spec: { hard: { pods, "requests.cpu": "4" } },
    });
    const refused = await apiError(() => apply(quota(30)));
    expect(refused.code).to.equal(500);
    expect(refused.body.message).to.equal(
      "failed to create typed patch object (/v1, Kind=ResourceQuota) default/q: .spec.hard.pods: expected string, got &value.valueUnstructured{Value:30}",
    );
    expect((await apply(quota("30"))).spec.hard.pods).to.equal("30");
    const deployment = workerDeployment(1, "1");
    deployment.spec.template.spec.containers[0].resources.limits = { cpu: 2 };
    expect((await apiError(() => apply(deployment))).body.message).to.contain(
      '.spec.template.spec.containers[name="trino"].resources.limits.cpu: expected string',
    );
    const created = await ctx.kc.makeApiClient(CoreV1Api).createNamespacedResourceQuota({
      namespace: "default",
      body: { metadata: { name: "json" }, spec: { hard: { pods: 30 as unknown as string } } },
    });
    expect(created.spec?.hard?.pods).to.equal("30");
  });

  it("canonicalizes quantities like the real server", () => {
    const cases: [string | number, string][] = [
      ["0.5", "500m"],
      ["1000m", "1"],
      [2, "2"],
      ["1.5Gi", "1536Mi"],
      ["2048Mi", "2Gi"],
      ["0.5Ki", "512"],
      ["1000M", "1G"],
      ["1.5", "1500m"],
    ];
    for (const [input, canonical] of cases) expect(canonicalQuantity(input)).to.equal(canonical);
  });

  it("defaults Deployment and container fields and stores canonical quantities", async () => {
    const created = await apply(workerDeployment(2, "0.5"));
    expect(created.spec.strategy).to.deep.equal({ type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } });
    const container = created.spec.template.spec.containers[0];
    expect(container).to.include({ imagePullPolicy: "IfNotPresent", terminationMessagePolicy: "File" });
    expect(container.resources.requests).to.deep.equal({ cpu: "500m", memory: "2Gi" });
    expect(container.ports[0].protocol).to.equal("TCP");
    const again = await apply(workerDeployment(2, "0.5"));
    expect(again.metadata!.resourceVersion).to.equal(created.metadata!.resourceVersion);
  });

  it("defaults replicas to 1 when the only owner stops applying them (the autoscaler hand-over pitfall)", async () => {
    const apps = ctx.kc.makeApiClient(AppsV1Api);
    const before = await apps.readNamespacedDeployment({ name: "workers", namespace: "default" });
    expect(before.spec?.replicas).to.equal(2);
    const dropped = await apply(workerDeployment(undefined, "0.5"));
    expect(dropped.spec.replicas).to.equal(1);
    expect(dropped.metadata!.generation).to.equal(2);
  });

  it("folds Secret stringData into base64 data and never returns it", async () => {
    const secret: Obj = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "creds", namespace: "default" },
      stringData: { password: "s3cret" },
      data: { user: "YWRtaW4=" },
    };
    const created = await apply(secret);
    expect(created.stringData).to.equal(undefined);
    expect(created.type).to.equal("Opaque");
    expect(created.data).to.deep.equal({ user: "YWRtaW4=", password: Buffer.from("s3cret").toString("base64") });
    const again = await apply(secret);
    expect(again.metadata!.resourceVersion).to.equal(created.metadata!.resourceVersion);
  });

  it("allocates a Service clusterIP once and defaults port fields", async () => {
    const service: Obj = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "coordinator", namespace: "default" },
      spec: { selector: { app: "c" }, ports: [{ name: "http", port: 8080 }] },
    };
    const created = await apply(service);
    expect(created.spec.clusterIP).to.match(/^10\.96\.\d+\.\d+$/);
    expect(created.spec.ports[0]).to.include({ protocol: "TCP", targetPort: 8080 });
    const core = ctx.kc.makeApiClient(CoreV1Api);
    const current = await core.readNamespacedService({ name: "coordinator", namespace: "default" });
    const replaced = await core.replaceNamespacedService({
      name: "coordinator",
      namespace: "default",
      body: { ...current, spec: { ...current.spec, clusterIP: undefined, clusterIPs: undefined, ports: [{ name: "http", port: 9090 }] } },
    });
    expect(replaced.spec?.clusterIP).to.equal(created.spec.clusterIP);
    expect(replaced.spec?.ports?.[0].targetPort).to.equal(9090);
  });
});
