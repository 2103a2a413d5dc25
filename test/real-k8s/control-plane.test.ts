// The real-control-plane tier: a current Kubernetes (kube-apiserver ×2 + etcd + kube-controller-manager,
// built from the published Go modules, see build.ts) started by the test itself, the install in deploy/
// applied server-side, the operator running as its own ServiceAccount, the example and fixture specs
// reaching Ready through the real Deployment controller (pods marked ready by the simulator), and the
// write counts taken from the API servers' audit logs. The same scenarios run against the project's
// Kubernetes API test server in test/e2e, test/reconciler, test/deploy/rbac-audit and test/apiserver;
// where the real server answers differently the test below names the difference (and so does the
// header of fixtures/kube-api-server/index.ts).
import { expect } from "chai";
import http from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { keyedListPatterns, kindsWithKeyedLists, listItem, listMapKeys, listPathPattern } from "../../lib/list-merge-keys.ts";
import { apiVersion, ownerLabel } from "../../schemas/api/index.ts";
import { leaseName as operatorLeaseName } from "../../reconciler/constants.ts";
import { celRules, invalidFixtureCel } from "../../schemas/api/cel-rules.ts";
import { createClusterClient, type ClusterClient } from "../../reconciler/kube-client.ts";
import { request as httpRequest, spawnApiServer, type ApiServerProcess } from "../apiserver/http.ts";
import { RouteHistory } from "../e2e/support.ts";
import { scrapeMetricSum } from "../support/metrics-text.ts";
import { eventually } from "../support/eventually.ts";
import { skipForMissingPeer } from "../support/peers.ts";
import { addedEnvVar, applyAsOtherManagers, otherManagersAdditions, podTemplateSummary, sidecarName } from "../support/other-managers.ts";
import { killAllChildren, spawnOperator, type ChildUnderTest } from "../support/process.ts";
import { countWrites, type AuditMark } from "./audit.ts";
import { startRealCluster, type RealCluster } from "./harness.ts";
import { PodSimulator } from "./pod-simulator.ts";
import {
  installObjects,
  invalidFixture,
  isKeda,
  serverSideApply,
  settledPhase,
  specCorpus,
  thirdPartyCrdObjects,
  type KubeDoc,
} from "./scenarios.ts";

const systemNamespace = "xtrinode-system";
const gatewayNamespace = "xtrinode-gateway";
const operatorUser = `system:serviceaccount:${systemNamespace}:xtrinode-operator`;
const lifecycleUser = `system:serviceaccount:${systemNamespace}:xtrinode-apiserver`;
const gatewayUser = `system:serviceaccount:${gatewayNamespace}:xtrinode-gateway`;
const stampedeNamespace = "stampede";
/** Pods of runtimes named like this stay Pending: a runtime that can never become ready. */
const stuckRuntime = "stuck";

function kubeConfigFrom(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

const key = (doc: KubeDoc) => `${doc.metadata.namespace}/${doc.metadata.name}`;

describe("real Kubernetes control plane (kube-apiserver ×2, etcd, kube-controller-manager; simulated pods)", function () {
  this.timeout(120_000);
  let cluster: RealCluster;
  let admin: ClusterClient;
  let pods: PodSimulator;
  let routes: RouteHistory;
  const operators: ChildUnderTest[] = [];
  const lifecycleApis: ApiServerProcess[] = [];
  const corpus = specCorpus();

  const runtimeStatus = async (namespace: string, name: string) =>
    (
      (await admin.get({ apiVersion, kind: "XTrinode", namespace, name })) as
        | {
            status?: {
              phase?: string;
              message?: string;
              conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
            };
          }
        | undefined
    )?.status;
  const phases = async () =>
    Object.fromEntries(
      await Promise.all(
        corpus.runtimes.map(async (doc) => [key(doc), (await runtimeStatus(doc.metadata.namespace, doc.metadata.name))?.phase] as const),
      ),
    );

  async function startOperator(identity: string, server = 0): Promise<ChildUnderTest> {
    const kubeconfig = await cluster.serviceAccountKubeconfig(systemNamespace, "xtrinode-operator", server);
    const operator = await spawnOperator(
      { kubeconfig, identity, leaseDuration: "4s", retryPeriod: "500ms", resyncPeriod: "3s", drainPeriod: "500ms" },
      { env: { XTRINODE_LOG_LEVEL: "warn" }, timeoutMs: 30_000 },
    );
    operators.push(operator);
    return operator;
  }
  const metricsUrl = (operator: ChildUnderTest) => `http://127.0.0.1:${operator.ready.metricsPort}`;
  const leaseHolder = async () =>
    (
      (await admin.get({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: systemNamespace, name: operatorLeaseName }))
        ?.spec as { holderIdentity?: string } | undefined
    )?.holderIdentity;
  /**
   * Marks the settled audit log, waits for two resync passes over every runtime (the operator's reconcile counter)
   * and settles the log again; returns the mark. The zero-write checks read the operator's writes since it.
   */
  async function markOverTwoResyncs(operator: ChildUnderTest, timeoutMs: number): Promise<AuditMark> {
    await cluster.audit.settled();
    const mark = cluster.audit.mark();
    const before = await scrapeMetricSum(metricsUrl(operator), "xtrinode_operator_reconcile_total");
    await eventually(
      "two resync passes over every runtime",
      async () => (await scrapeMetricSum(metricsUrl(operator), "xtrinode_operator_reconcile_total")) >= before + 2 * corpus.runtimes.length,
      timeoutMs,
    );
    await cluster.audit.settled();
    return mark;
  }
  /** Operator writes other than renewing its leader Lease (a leader renews every retry period; that is its job). */
  const operatorWrites = (since: number[]) =>
    cluster.audit
      .writes({ user: operatorUser }, since)
      .filter((event) => !(event.objectRef?.resource === "leases" && event.objectRef.name === operatorLeaseName));

  before(async function () {
    // First run: builds Kubernetes from the Go modules (minutes, with progress lines); later runs: seconds.
    this.timeout(60 * 60_000);
    try {
      cluster = await startRealCluster({ apiServers: 2 });
    } catch (error) {
      skipForMissingPeer(this, error, "the real-k8s tier (every test in test/real-k8s)");
    }
    admin = createClusterClient(cluster.kubeConfig());
    pods = new PodSimulator({
      kubeConfig: cluster.kubeConfig(),
      request: (method, apiPath, body) => cluster.request(method, apiPath, body),
      holdPending: (pod) => pod.metadata.labels?.[ownerLabel] === stuckRuntime,
    });
    await pods.start();
  });

  after(async function () {
    this.timeout(60_000);
    routes?.stop();
    pods?.stop();
    await Promise.all(lifecycleApis.map((server) => server.stop()));
    await killAllChildren();
    await cluster?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state !== "failed" || !cluster) return;
    for (const operator of operators) console.error(`operator ${operator.pid} output:\n${operator.output.slice(-30).join("\n")}`);
    console.error(`pod simulator errors: ${pods?.errors.slice(-5).join("; ")}`);
    console.error(`kube-controller-manager log tail:\n${cluster.logTail("kube-controller-manager", 10)}`);
  });

  it(`serves a current Kubernetes (≥ 1.30) built from the Go modules`, async () => {
    const version = await cluster.request("GET", "/version");
    expect(version.body.gitVersion).to.equal(cluster.version);
    expect(Number(version.body.minor)).to.be.at.least(30);
    // policy/v1 and autoscaling/v2: what the renderer emits for PDBs and HPAs.
    for (const group of ["/apis/policy/v1", "/apis/autoscaling/v2", "/apis/coordination.k8s.io/v1"])
      expect((await cluster.request("GET", group)).status, group).to.equal(200);
  });

  it("installs deploy/ with server-side apply (CRDs, namespaces, RBAC, ConfigMaps, workloads); the CRDs are Established and structural", async () => {
    await serverSideApply(cluster.kubeConfig(), thirdPartyCrdObjects());
    const objects = installObjects(corpus.policy);
    const crds = objects.filter((o) => o.kind === "CustomResourceDefinition");
    expect(crds.map((o) => o.metadata.name).sort()).to.deep.equal(["xtrinodecatalogs.xtrinode.io", "xtrinodes.xtrinode.io"]);
    await serverSideApply(cluster.kubeConfig(), crds);
    for (const crd of [...crds, ...thirdPartyCrdObjects()]) {
      await eventually(
        `CRD ${crd.metadata.name} Established`,
        async () => {
          const live = (await cluster.request("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`)).body;
          const conditions: Array<{ type: string; status: string; message?: string }> = live.status?.conditions ?? [];
          // A non-structural schema would show NonStructuralSchema; the server refuses to serve it as intended.
          expect(
            conditions.find((c) => c.type === "NonStructuralSchema"),
            `${crd.metadata.name}: ${JSON.stringify(conditions)}`,
          ).to.equal(undefined);
          return conditions.some((c) => c.type === "Established" && c.status === "True");
        },
        20_000,
      );
    }
    await serverSideApply(
      cluster.kubeConfig(),
      objects.filter((o) => o.kind !== "CustomResourceDefinition"),
    );
    for (const [namespace, name] of [
      [systemNamespace, "xtrinode-operator"],
      [systemNamespace, "xtrinode-apiserver"],
      [gatewayNamespace, "xtrinode-gateway"],
    ]) {
      expect(
        await admin.get({ apiVersion: "v1", kind: "ServiceAccount", namespace, name }),
        `ServiceAccount ${namespace}/${name}`,
      ).to.not.equal(undefined);
    }
  });

  it("the operator, as its ServiceAccount, reconciles the example specs and every fixture spec: Ready (Suspended when the spec says so) through the real Deployment controller, with zero RBAC denials (KEDA runtimes: next test)", async function () {
    this.timeout(240_000);
    const mark = cluster.audit.mark();
    for (const namespace of corpus.namespaces)
      if (namespace !== "default")
        await serverSideApply(cluster.kubeConfig(), [{ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }]);
    await serverSideApply(cluster.kubeConfig(), [...corpus.secrets, ...corpus.catalogs, ...corpus.runtimes]);
    const operator = await startOperator("operator-1");
    await eventually("operator-1 leading", async () => (await leaseHolder()) === "operator-1", {
      timeoutMs: 30_000,
      describe: leaseHolder,
    });
    const described = async () =>
      Object.fromEntries(
        await Promise.all(
          corpus.runtimes.map(async (doc) => [
            key(doc),
            await runtimeStatus(doc.metadata.namespace, doc.metadata.name).then((s) => `${s?.phase}: ${s?.message ?? ""}`),
          ]),
        ),
      );
    await eventually(
      "every runtime of the corpus in its settled phase (or in Error)",
      async () => {
        const now = await phases();
        return corpus.runtimes.every((doc) => now[key(doc)] === settledPhase(doc) || now[key(doc)] === "Error");
      },
      { timeoutMs: 180_000, describe: described },
    );
    const now = await phases();
    const unsettled = corpus.runtimes.filter((doc) => !isKeda(doc) && now[key(doc)] !== settledPhase(doc));
    expect(unsettled.map(key), JSON.stringify(await described())).to.deep.equal([]);
    // Ready came from the Deployment controller: the coordinator Deployment has ready replicas, made of real ReplicaSets and Pods.
    const bi = corpus.runtimes.find((doc) => settledPhase(doc) === "Ready")!;
    const coordinator = (await admin.get({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: bi.metadata.namespace,
      name: `${bi.metadata.name}-trino-coordinator`,
    })) as KubeDoc;
    expect(coordinator.status.readyReplicas).to.be.at.least(1);
    expect(await admin.list("apps/v1", "ReplicaSet", bi.metadata.namespace, `${ownerLabel}=${bi.metadata.name}`)).to.not.be.empty;
    expect(operator.ready.identity).to.equal("operator-1");
    await cluster.audit.settled();
    const writes = cluster.audit.writes({ user: operatorUser }, mark);
    expect(
      writes.filter((event) => (event.responseStatus?.code ?? 0) < 300),
      "the operator wrote through its ServiceAccount",
    ).to.not.be.empty;
    console.log(`      audit: operator writes to reach the settled phases of ${corpus.runtimes.length} runtimes: ${writes.length}`);
    expect(cluster.audit.denials(operatorUser, mark).map((event) => `${event.verb} ${event.requestURI}`)).to.deep.equal([]);
  });

  it("KEDA runtimes (the README's headline `adhoc`) settle, not in Error: the CRD's defaults pass the operator's rules", async () => {
    const keda = corpus.runtimes.filter(isKeda);
    expect(keda.map(key)).to.include("analytics/adhoc");
    for (const doc of keda) {
      await eventually(
        `${key(doc)} ${settledPhase(doc)}`,
        async () => (await runtimeStatus(doc.metadata.namespace, doc.metadata.name))?.phase === settledPhase(doc),
        { timeoutMs: 20_000, describe: () => runtimeStatus(doc.metadata.namespace, doc.metadata.name) },
      );
      if (settledPhase(doc) === "Ready")
        expect(
          await admin.get({
            apiVersion: "keda.sh/v1alpha1",
            kind: "ScaledObject",
            namespace: doc.metadata.namespace,
            name: `${doc.metadata.name}-trino-worker`,
          }),
          `ScaledObject of ${key(doc)}`,
        ).to.not.equal(undefined);
    }
  });

  it("a no-op resync makes 0 writes (audit log; leader Lease renewals aside)", async () => {
    const operator = operators[0];
    // Two resync periods (3 s each): every runtime reconciled again at least once.
    const mark = await markOverTwoResyncs(operator, 30_000);
    expect(countWrites(operatorWrites(mark))).to.deep.equal({});
  });

  it("other field managers add a sidecar container and an env var to an operator-owned Deployment: the resync makes 0 writes, and a re-apply keeps both (keyed list merge)", async function () {
    this.timeout(90_000);
    const operator = operators[0];
    const runtime = corpus.runtimes.find((doc) => doc.metadata.name === "minimal")!;
    const { namespace, name } = runtime.metadata;
    const deployment = { namespace, name: `${name}-trino-coordinator`, container: "trino-coordinator" };
    const deploymentRef = { apiVersion: "apps/v1", kind: "Deployment", namespace, name: deployment.name };
    await applyAsOtherManagers(cluster.kubeConfig(), otherManagersAdditions(deployment));
    const additions = async () => podTemplateSummary(await admin.get(deploymentRef), deployment.container);
    const rolledOut = async () => {
      const live = (await admin.get(deploymentRef)) as KubeDoc;
      return (
        live.status?.observedGeneration === live.metadata.generation &&
        live.status?.updatedReplicas === live.spec.replicas &&
        live.status?.readyReplicas === live.spec.replicas &&
        (await runtimeStatus(namespace, name))?.phase === "Ready"
      );
    };
    await eventually(`${deployment.name} rolled out with the sidecar and ${name} Ready`, rolledOut, {
      timeoutMs: 60_000,
      describe: async () => ({
        deployment: ((await admin.get(deploymentRef)) as KubeDoc).status,
        runtime: await runtimeStatus(namespace, name),
      }),
    });
    const mark = await markOverTwoResyncs(operator, 60_000);
    // This runtime's objects and status only: the no-op test above judges the whole corpus.
    const ofThisRuntime = ({ objectRef: ref }: { objectRef?: { namespace?: string; name?: string } }) =>
      ref?.namespace === namespace && (ref?.name === name || !!ref?.name?.startsWith(`${name}-`));
    expect(
      countWrites(operatorWrites(mark).filter(ofThisRuntime)),
      `operator writes to ${namespace}/${name} after other managers added list items`,
    ).to.deep.equal({});
    const containers = [deployment.container, sidecarName].sort();
    expect((await additions()).containers).to.deep.equal(containers);
    expect((await additions()).env).to.include(addedEnvVar);

    // An operator-owned field drifts: the operator re-applies (force) and the other managers' items stay.
    const drifted = await cluster.request("PATCH", `/apis/apps/v1/namespaces/${namespace}/deployments/${deployment.name}`, {
      spec: { progressDeadlineSeconds: 601 },
    });
    expect(drifted.status, JSON.stringify(drifted.body)).to.equal(200);
    await eventually(
      "the operator put progressDeadlineSeconds back",
      async () => ((await admin.get(deploymentRef)) as KubeDoc).spec.progressDeadlineSeconds === 600,
      30_000,
    );
    expect((await additions()).containers).to.deep.equal(containers);
    expect((await additions()).env).to.include(addedEnvVar);
  });

  it("lib/list-merge-keys.ts agrees with the server's OpenAPI: each keyed list it names is list-type map with those keys, and every other list of the rendered objects is not merged by key", async () => {
    const documents = new Map<string, { components: { schemas: Record<string, KubeDoc> } }>();
    const schemaOf = async (objectApiVersion: string, kind: string) => {
      const openApiPath = objectApiVersion.includes("/") ? `/openapi/v3/apis/${objectApiVersion}` : `/openapi/v3/api/${objectApiVersion}`;
      if (!documents.has(openApiPath)) documents.set(openApiPath, (await cluster.request("GET", openApiPath)).body);
      const schemas = documents.get(openApiPath)!.components.schemas;
      const packageName = objectApiVersion.includes("/") ? objectApiVersion.split("/")[0].split(".")[0] : "core";
      const resolve = (schema: KubeDoc | undefined): KubeDoc | undefined => {
        const ref: string | undefined = schema?.$ref ?? schema?.allOf?.[0]?.$ref;
        return ref ? resolve(schemas[ref.replace("#/components/schemas/", "")]) : schema;
      };
      const root = resolve(schemas[`io.k8s.api.${packageName}.${objectApiVersion.split("/").pop()}.${kind}`]);
      expect(root, `OpenAPI schema of ${objectApiVersion} ${kind}`).to.not.equal(undefined);
      return (fields: string[]) =>
        fields.reduce<KubeDoc | undefined>(
          (schema, field) => resolve(field === listItem ? schema?.items : schema?.properties?.[field]),
          root,
        );
    };
    const describeList = (schema: KubeDoc | undefined) =>
      schema?.["x-kubernetes-list-type"] === "map"
        ? { keys: schema["x-kubernetes-list-map-keys"] }
        : { type: schema?.["x-kubernetes-list-type"] ?? "atomic" };
    const checked: string[] = [];
    for (const typeKey of kindsWithKeyedLists) {
      const [objectApiVersion, kind] = typeKey.split(" ");
      const at = await schemaOf(objectApiVersion, kind);
      for (const [pattern, list] of Object.entries(keyedListPatterns(objectApiVersion, kind))) {
        const fields = pattern
          .split(".")
          .flatMap((field) => (field.endsWith(listItem) ? [field.slice(0, -listItem.length), listItem] : [field]));
        expect(describeList(at(fields)), `${typeKey} ${pattern}`).to.deep.equal({ keys: list.keys });
        checked.push(`${kind} ${pattern}`);
      }
    }
    // The lists the rendered (and server-defaulted) objects hold, wherever they are in them.
    const renderedKinds = [
      ["apps/v1", "Deployment"],
      ["v1", "Service"],
      ["v1", "ConfigMap"],
      ["v1", "ServiceAccount"],
      ["policy/v1", "PodDisruptionBudget"],
      ["autoscaling/v2", "HorizontalPodAutoscaler"],
      ["v1", "ResourceQuota"],
      ["v1", "LimitRange"],
    ];
    for (const [objectApiVersion, kind] of renderedKinds) {
      const at = await schemaOf(objectApiVersion, kind);
      // Every one in the cluster: the rendered ones (the namespace guardrails carry no owner label) and the server's own.
      const objects = await admin.list(objectApiVersion, kind);
      expect(objects, `${kind}s`).to.not.be.empty;
      const lists = new Set<string>();
      const walk = (value: unknown, fields: string[]) => {
        if (Array.isArray(value)) {
          lists.add(JSON.stringify(fields));
          for (const item of value) walk(item, [...fields, listItem]);
        } else if (value && typeof value === "object") for (const [field, child] of Object.entries(value)) walk(child, [...fields, field]);
      };
      for (const {
        metadata: { managedFields: _managed, ...metadata },
        status: _status,
        ...object
      } of objects as KubeDoc[])
        walk({ ...object, metadata }, []);
      for (const fields of [...lists].map((json) => JSON.parse(json) as string[])) {
        const table = listMapKeys(objectApiVersion, kind, fields);
        const served = describeList(at(fields));
        if (table) expect(served, `${kind} ${listPathPattern(fields)}`).to.deep.equal({ keys: table.keys });
        else
          expect(
            served,
            `${kind} ${listPathPattern(fields)}: merged by key on the server, missing in lib/list-merge-keys.ts`,
          ).to.not.have.property("keys");
        checked.push(`${kind} ${listPathPattern(fields)}`);
      }
    }
    console.log(`      list merge types checked against the OpenAPI: ${checked.length}`);
  });

  it("an operator restart makes 0 writes once it leads again (audit log; leader Lease aside)", async () => {
    await operators[0].kill("SIGTERM");
    await cluster.audit.settled();
    const mark = cluster.audit.mark();
    const operator = await startOperator("operator-2");
    await eventually("operator-2 leading", async () => (await leaseHolder()) === "operator-2", {
      timeoutMs: 30_000,
      describe: leaseHolder,
    });
    await eventually(
      "operator-2 reconciled every runtime",
      async () => (await scrapeMetricSum(metricsUrl(operator), "xtrinode_operator_reconcile_total")) >= corpus.runtimes.length,
      30_000,
    );
    await cluster.audit.settled();
    expect(countWrites(operatorWrites(mark))).to.deep.equal({});
  });

  it("leader failover: SIGKILL of the leader, a standby on the other API server takes the Lease", async function () {
    this.timeout(60_000);
    const standby = await startOperator("operator-3", 1);
    const leader = operators.find((operator) => operator.ready.identity === "operator-2")!;
    expect(await leaseHolder()).to.equal("operator-2");
    const killedAt = Date.now();
    await leader.kill("SIGKILL");
    await eventually("operator-3 leading after the leader was killed", async () => (await leaseHolder()) === "operator-3", {
      timeoutMs: 30_000,
      describe: leaseHolder,
    });
    console.log(`      takeover after SIGKILL: ${((Date.now() - killedAt) / 1000).toFixed(1)} s (lease 4 s, retry 0.5 s)`);
    expect(standby.child.exitCode).to.equal(null);
  });

  it("the gateway's routes source (as the gateway ServiceAccount) follows the routes ConfigMap", async () => {
    routes = new RouteHistory(
      kubeConfigFrom(await cluster.serviceAccountKubeconfig(gatewayNamespace, "xtrinode-gateway", 1)),
      gatewayNamespace,
    );
    await routes.start();
    // Every runtime the operator published (one in Error has no route: see the KEDA test).
    const published = [];
    for (const doc of corpus.runtimes)
      if ((await runtimeStatus(doc.metadata.namespace, doc.metadata.name))?.phase !== "Error") published.push(doc);
    expect(published.length).to.be.at.least(corpus.runtimes.filter((doc) => !isKeda(doc)).length);
    for (const doc of published) {
      const want = settledPhase(doc) === "Ready" ? "RUNNING" : "PAUSED";
      await eventually(`route of ${key(doc)} ${want}`, () => routes.current(doc.metadata.namespace, doc.metadata.name)?.state === want, {
        timeoutMs: 10_000,
        describe: () => routes.states(doc.metadata.namespace, doc.metadata.name),
      });
    }
  });

  it("suspend → resume → delete: replicas to 0 and pods gone, back to Ready, then finalizer, route REMOVED and garbage collection", async function () {
    this.timeout(120_000);
    const doc =
      corpus.runtimes.find((runtime) => runtime.metadata.name === "reporting") ??
      corpus.runtimes.find((runtime) => settledPhase(runtime) === "Ready")!;
    const { namespace, name } = doc.metadata;
    const ref = { apiVersion, kind: "XTrinode", namespace, name };
    const runtimePods = () => admin.list("v1", "Pod", namespace, `${ownerLabel}=${name}`);
    expect(await runtimePods(), "pods before suspending").to.not.be.empty;
    const from = routes.versions.length - 1;

    await admin.mergePatch(ref, { spec: { lifecycle: { suspended: true } } });
    await eventually(`${name} Suspended`, async () => (await runtimeStatus(namespace, name))?.phase === "Suspended", {
      timeoutMs: 30_000,
      describe: () => runtimeStatus(namespace, name),
    });
    await eventually(`${name}'s pods gone (ReplicaSet controller scaled down)`, async () => (await runtimePods()).length === 0, {
      timeoutMs: 30_000,
      describe: async () => (await runtimePods()).map((p) => p.metadata?.name),
    });
    expect(routes.states(namespace, name, from)).to.include.members(["DRAINING", "PAUSED"]);

    await admin.mergePatch(ref, { spec: { lifecycle: { suspended: false } } });
    await eventually(`${name} Ready again`, async () => (await runtimeStatus(namespace, name))?.phase === "Ready", {
      timeoutMs: 60_000,
      describe: () => runtimeStatus(namespace, name),
    });
    expect(await runtimePods()).to.not.be.empty;

    await admin.delete(ref);
    await eventually(`${name} gone (finalizer done)`, async () => (await admin.get(ref)) === undefined, 30_000);
    await eventually(`${name}'s route entry gone`, () => routes.current(namespace, name) === undefined, {
      timeoutMs: 10_000,
      describe: () => routes.states(namespace, name, from),
    });
    expect(routes.states(namespace, name, from).slice(-2)).to.deep.equal(["REMOVED", "absent"]);
    for (const [version, kind] of [
      ["apps/v1", "Deployment"],
      ["apps/v1", "ReplicaSet"],
      ["v1", "Pod"],
      ["v1", "ConfigMap"],
      ["v1", "Service"],
      ["v1", "ServiceAccount"],
    ]) {
      await eventually(
        `${kind}s of ${name} garbage-collected`,
        async () => (await admin.list(version, kind, namespace, `${ownerLabel}=${name}`)).length === 0,
        30_000,
      );
    }
  });

  it("resume stampede: 300 concurrent resumes through 2 lifecycle API replicas on 2 API servers → exactly 1 XTrinode write and 1 Lease won (audit log)", async function () {
    this.timeout(120_000);
    await serverSideApply(cluster.kubeConfig(), [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: stampedeNamespace } },
      {
        apiVersion,
        kind: "XTrinode",
        metadata: { name: "herd", namespace: stampedeNamespace },
        spec: { workers: { mode: "fixed", count: 0 }, lifecycle: { suspended: true } },
      },
    ]);
    await eventually("herd Suspended", async () => (await runtimeStatus(stampedeNamespace, "herd"))?.phase === "Suspended", {
      timeoutMs: 30_000,
      describe: () => runtimeStatus(stampedeNamespace, "herd"),
    });
    for (const server of [0, 1]) {
      const kubeconfig = await cluster.serviceAccountKubeconfig(systemNamespace, "xtrinode-apiserver", server);
      lifecycleApis.push(await spawnApiServer(["--kubeconfig", kubeconfig, "--identity", `lifecycle-${server}`]));
    }
    // The gateway's own token: the lifecycle API reviews it with the cluster (TokenReview), as in production.
    const gatewayToken = (kubeConfigFrom(await cluster.serviceAccountKubeconfig(gatewayNamespace, "xtrinode-gateway")).getCurrentUser()
      ?.token)!;
    await cluster.audit.settled();
    const mark = cluster.audit.mark();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          httpRequest(`${lifecycleApis[i % 2].url}/v1/runtimes/${stampedeNamespace}/herd/resume`, {
            method: "POST",
            token: gatewayToken,
            agent,
          }),
        ),
      );
      const statuses: Record<number, number> = {};
      for (const answer of answers) statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      expect(statuses, answers.find((a) => a.status !== 202)?.text).to.deep.equal({ 202: 300 });
    } finally {
      agent.destroy();
    }
    await cluster.audit.settled();
    const lifecycleWrites = cluster.audit.writes({ user: lifecycleUser }, mark);
    const runtimeWrites = lifecycleWrites.filter((event) => event.objectRef?.resource === "xtrinodes");
    const leaseWrites = lifecycleWrites.filter((event) => event.objectRef?.resource === "leases");
    const counts = JSON.stringify(countWrites(lifecycleWrites));
    expect(
      runtimeWrites.filter((event) => (event.responseStatus?.code ?? 0) < 300),
      `XTrinode writes: ${counts}`,
    ).to.have.length(1);
    expect(
      leaseWrites.filter((event) => (event.responseStatus?.code ?? 0) < 300),
      `Lease writes: ${counts}`,
    ).to.have.length(1);
    // Each replica talks to its own API server: both reviewed the gateway's token there.
    const reviews = lifecycleWrites.filter((event) => event.objectRef?.resource === "tokenreviews");
    expect(new Set(reviews.map((event) => event.server)), `TokenReviews per API server: ${counts}`).to.deep.equal(new Set([0, 1]));
    expect(cluster.audit.denials(lifecycleUser, mark)).to.deep.equal([]);
    console.log(`      audit: ${counts}`);
    await eventually("herd resumed to Ready", async () => (await runtimeStatus(stampedeNamespace, "herd"))?.phase === "Ready", {
      timeoutMs: 60_000,
      describe: () => runtimeStatus(stampedeNamespace, "herd"),
    });
  });

  it("a runtime whose pods cannot be scheduled: past the Deployment's progress deadline, phase Error naming the deadline and the pod's Unschedulable reason, route FAILED, a Warning Event", async function () {
    this.timeout(120_000);
    // The simulator leaves the pods of `stuck` Pending with PodScheduled False / Unschedulable, as a
    // scheduler without room for them does.
    await serverSideApply(cluster.kubeConfig(), [
      {
        apiVersion,
        kind: "XTrinode",
        metadata: { name: stuckRuntime, namespace: stampedeNamespace },
        spec: { workers: { mode: "fixed", count: 0 } },
      },
    ]);
    const deploymentName = `${stuckRuntime}-trino-coordinator`;
    const deploymentPath = `/apis/apps/v1/namespaces/${stampedeNamespace}/deployments/${deploymentName}`;
    await eventually(
      `${stuckRuntime}'s pods Pending`,
      async () => (await admin.list("v1", "Pod", stampedeNamespace, `${ownerLabel}=${stuckRuntime}`)).length > 0,
      30_000,
    );
    await eventually(
      `${stuckRuntime} Reconciling (waiting for its pods)`,
      async () => (await runtimeStatus(stampedeNamespace, stuckRuntime))?.phase === "Reconciling",
      { timeoutMs: 30_000, describe: () => runtimeStatus(stampedeNamespace, stuckRuntime) },
    );
    // The rendered deadline is 600 s; an admin shortens it to 1 s to stand in for the wait. The Deployment
    // controller then marks the rollout ProgressDeadlineExceeded, and keeps it so when the operator puts 600 back
    // (its resync may do so before the controller looked: the patch is repeated each second until it has).
    let patchedAt = 0;
    await eventually(
      "the Deployment controller's ProgressDeadlineExceeded",
      async () => {
        if (Date.now() - patchedAt > 1_000) {
          const shortened = await cluster.request("PATCH", deploymentPath, { spec: { progressDeadlineSeconds: 1 } });
          expect(shortened.status, JSON.stringify(shortened.body)).to.equal(200);
          patchedAt = Date.now();
        }
        const conditions: Array<{ type: string; status: string; reason?: string }> =
          (await cluster.request("GET", deploymentPath)).body.status?.conditions ?? [];
        return conditions.some((c) => c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded");
      },
      60_000,
    );
    const status = await eventually(
      `${stuckRuntime} in Error naming why`,
      async () => {
        const now = await runtimeStatus(stampedeNamespace, stuckRuntime);
        return now?.phase === "Error" ? now : undefined;
      },
      { timeoutMs: 30_000, describe: () => runtimeStatus(stampedeNamespace, stuckRuntime) },
    );
    expect(status.message).to.include("Unschedulable");
    expect(JSON.stringify(status.conditions)).to.include("ProgressDeadlineExceeded");
    await eventually(`${stuckRuntime}'s route FAILED`, () => routes.current(stampedeNamespace, stuckRuntime)?.state === "FAILED", {
      timeoutMs: 10_000,
      describe: () => routes.states(stampedeNamespace, stuckRuntime),
    });
    const events = (await cluster.request("GET", `/api/v1/namespaces/${stampedeNamespace}/events`)).body.items as Array<{
      type: string;
      involvedObject: { kind: string; name: string };
      message: string;
    }>;
    expect(
      events
        .filter((e) => e.type === "Warning" && e.involvedObject.kind === "XTrinode" && e.involvedObject.name === stuckRuntime)
        .map((e) => e.message)
        .join("\n"),
    ).to.include("Unschedulable");
  });

  describe("invalid specs refused at apply time (CEL x-kubernetes-validations, strict fields)", () => {
    /** The API server's refusal of a server-side dry-run apply, or undefined when it accepted. */
    const refusal = async (doc: KubeDoc): Promise<{ code: number; message: string } | undefined> => {
      try {
        await serverSideApply(cluster.kubeConfig(), [doc], { dryRun: true });
        return undefined;
      } catch (error) {
        const body = (error as { body?: unknown }).body;
        const status = (typeof body === "string" ? JSON.parse(body) : body) as { code: number; message: string };
        return { code: status.code, message: status.message };
      }
    };
    const crdKinds = new Set(["XTrinode", "XTrinodeCatalog"]);

    for (const [name, entry] of Object.entries(invalidFixtureCel).filter(([, e]) => e.cel !== "none")) {
      it(`fixtures/invalid/${name}.yaml (${entry.cel}): refused with validate's message for ${entry.rules.join(", ")}`, async () => {
        const docs = invalidFixture(name).filter((doc) => crdKinds.has(doc.kind));
        for (const namespace of new Set(docs.map((doc) => doc.metadata.namespace ?? "default")))
          await serverSideApply(cluster.kubeConfig(), [{ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }]);
        const refusals = (await Promise.all(docs.map(refusal))).filter((r) => r !== undefined);
        for (const rule of entry.rules) {
          const message = celRules[rule].message;
          expect(
            refusals.some((r) => r.code === 422 && r.message.includes(message)),
            `refusals: ${JSON.stringify(refusals)}; want "${message}"`,
          ).to.equal(true);
        }
        if (entry.cel === "all") expect(refusals, "every document of the file refused").to.have.length(docs.length);
      });
    }

    it("fixtures/invalid/unknown-field.yaml: the typo and the bad hostname refused by the schema itself; names a difference: a server-side apply of an unknown field is an HTTP 500", async () => {
      const [doc] = invalidFixture("unknown-field");
      // Server-side apply fails building the typed patch before strict validation: 500 "field not declared in schema".
      const applied = await refusal(doc);
      expect(applied?.code, JSON.stringify(applied)).to.equal(500);
      expect(applied?.message).to.include(".spec.wrokers: field not declared in schema");
      // A create (kubectl create, client-side apply) with strict field validation: the typo and the pattern.
      const created = await cluster.request(
        "POST",
        `/apis/xtrinode.io/v1alpha1/namespaces/${doc.metadata.namespace}/xtrinodes?fieldValidation=Strict&dryRun=All`,
        doc,
      );
      expect(created.status, JSON.stringify(created.body)).to.be.oneOf([400, 422]);
      expect(created.body.message).to.include("wrokers");
      const { wrokers: _typo, ...spec } = doc.spec;
      const badHost = await refusal({ ...doc, spec });
      expect(badHost?.code, JSON.stringify(badHost)).to.equal(422);
      expect(badHost?.message).to.include("spec.route.hostnames[0]");
    });

    it("every example and fixture spec is accepted as it is (the corpus applied above; a dry run again)", async () => {
      for (const doc of [...corpus.catalogs, ...corpus.runtimes])
        expect(
          await refusal({
            apiVersion: doc.apiVersion,
            kind: doc.kind,
            metadata: { name: doc.metadata.name, namespace: doc.metadata.namespace, labels: doc.metadata.labels },
            spec: doc.spec,
          }),
          key(doc),
        ).to.equal(undefined);
    });
  });

  it('differs from the test server: a quantity sent as a JSON number in a server-side apply is accepted (v1.37; 1.20 answered 500 "expected string", and so does the test server)', async () => {
    const quota = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "numeric-quantity", namespace: stampedeNamespace },
      spec: { hard: { pods: 30, "requests.cpu": "4" } },
    };
    const [applied] = await serverSideApply(cluster.kubeConfig(), [quota]);
    expect(applied.spec.hard).to.deep.equal({ pods: "30", "requests.cpu": "4" });
  });

  it("re-applying the install (upgrade) succeeds with the operator running: no field conflict", async () => {
    try {
      await serverSideApply(cluster.kubeConfig(), installObjects(corpus.policy));
    } catch (error) {
      throw new Error(
        `kubectl apply --server-side of deploy/ again: ${(error as { body?: unknown }).body ? JSON.stringify((error as { body?: unknown }).body) : String(error)}`,
      );
    }
  });

  it("no component met an RBAC denial over the whole run (audit log)", async () => {
    for (const user of [operatorUser, lifecycleUser, gatewayUser])
      expect(
        cluster.audit.denials(user).map((event) => `${event.verb} ${event.requestURI}`),
        user,
      ).to.deep.equal([]);
  });
});
