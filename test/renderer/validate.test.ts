// Validation rules for what the API server would reject (or what must not reach Git) beyond the
// schemas: runtime names, node pool ids, requests/limits/heap, the policy's LimitRange and quota,
// overlay labels and quantities, secrets in catalog properties, empty spec sets.
// The full messages are pinned by fixtures/invalid/*.expected.txt; these tests cover the edges.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import {
  loadSpecs,
  nodePoolId,
  renderAll,
  renderRuntime,
  RenderError,
  runtimeNames,
  SpecLoadError,
  validateRuntime,
  validateSpecSet,
  type KubeObject,
  type SpecSet,
} from "../../renderer/index.ts";
import type { XTrinode, XTrinodePolicy } from "../../schemas/generated/types.ts";
import { catalog, runtime } from "./support.ts";

const policy = (rules: XTrinodePolicy["defaults"], namespaces?: XTrinodePolicy["namespaces"]): XTrinodePolicy => ({
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodePolicy",
  defaults: rules,
  ...(namespaces ? { namespaces } : {}),
});
const messages = (issues: Array<{ path: string; message: string }>) => issues.map((i) => `${i.path}: ${i.message}`);
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

describe("renderer validation rules", () => {
  it("refuses a runtime name starting with a digit (its Services must be DNS-1035 labels)", () => {
    expect(messages(validateRuntime({ runtime: runtime("2024-q1"), catalogs: [] }))).to.deep.equal([
      'metadata.name: must start with a letter: the runtime\'s Service names ("<name>-trino", "<name>-trino-worker") must be DNS-1035 labels, which the API server requires to start with a letter',
    ]);
    expect(validateRuntime({ runtime: runtime("q1-2024"), catalogs: [] })).to.deep.equal([]);
  });

  describe("node pool id (label and taint value)", () => {
    const pools = policy({ allowedNodePoolClasses: ["mem"] });
    const longName = "customer-analytics-nightly-batch-eu"; // 35 characters, within MAX_RUNTIME_NAME
    const longNamespace = "team-analytics-prod";

    it("is <namespace>.<name>-trino-pool when that fits in 63 characters (goldens unchanged)", () => {
      expect(nodePoolId(runtimeNames(runtime("etl", {}, "team-a")))).to.equal("team-a.etl-trino-pool");
      const fits = runtimeNames(runtime("a".repeat(45), {}, "n".repeat(6)));
      expect(nodePoolId(fits))
        .to.equal(`${"n".repeat(6)}.${"a".repeat(45)}-trino-pool`)
        .and.to.have.length(63);
    });

    it("is cut to 63 characters and ends in a hash when longer: deterministic, distinct, a valid label value", () => {
      const id = nodePoolId(runtimeNames(runtime(longName, {}, longNamespace)));
      expect(`${longNamespace}.${longName}-trino-pool`).to.have.length.above(63);
      expect(id)
        .to.have.length.at.most(63)
        .and.to.match(LABEL_VALUE)
        .and.to.match(/^team-analytics-prod\.customer-analytics-nightly-batch-[0-9a-f]{10}$/);
      expect(nodePoolId(runtimeNames(runtime(longName, {}, longNamespace)))).to.equal(id);
      // Same 52-character prefix, different runtimes: different ids.
      expect(nodePoolId(runtimeNames(runtime(`${longName}x`, {}, longNamespace)))).to.not.equal(id);
      // A cut that would end in '-' or '.' drops it.
      const cut = nodePoolId({ namespace: "a".repeat(51), nodePool: "b-trino-pool" });
      expect(cut)
        .to.match(LABEL_VALUE)
        .and.to.match(/^a{51}-[0-9a-f]{10}$/);
    });

    it("renders the same bounded id on the node labels, the taint, the pods' nodeSelector and tolerations", () => {
      const r = renderRuntime({
        runtime: runtime(longName, { nodePool: { class: "mem", instanceType: "r6i.2xlarge" } }, longNamespace),
        catalogs: [],
        policy: { ...pools, namespaces: { [longNamespace]: { allowedNodePoolClasses: ["mem"] } } },
      });
      const id = nodePoolId(runtimeNames(runtime(longName, {}, longNamespace)));
      const deployment = r.objects.find((o) => o.kind === "Deployment" && o.metadata.name.endsWith("-worker")) as KubeObject & {
        spec: any;
      };
      expect(deployment.spec.template.spec.nodeSelector).to.deep.equal({ "xtrinode.io/node-pool": id });
      expect(deployment.spec.template.spec.tolerations).to.deep.include({
        key: "xtrinode.io/node-pool",
        operator: "Equal",
        value: id,
        effect: "NoSchedule",
      });
      const machines = r.objects.find((o) => o.kind === "MachineDeployment") as KubeObject & { spec: any };
      expect(machines.spec.selector.matchLabels).to.deep.equal({ "xtrinode.io/node-pool": id });
      const bootstrap = JSON.stringify(r.objects.find((o) => o.kind === "KubeadmConfigTemplate"));
      expect(bootstrap)
        .to.contain(`xtrinode.io/node-pool=${id}`)
        .and.to.not.contain(`xtrinode.io/node-pool=${longNamespace}.${longName}-trino-pool`);
    });
  });

  describe("resources", () => {
    it("refuses requests above limits, naming the overlay field when the overlay set it", () => {
      const rt = runtime("r", {
        workers: { resources: { requests: { cpu: "2" }, limits: { cpu: "4" } } },
        valuesOverlay: { worker: { resources: { limits: { cpu: "1" } } } },
      });
      expect(messages(validateRuntime({ runtime: rt, catalogs: [], policy: policy({ allowValuesOverlay: true }) }))).to.deep.equal([
        "spec.workers.resources.requests.cpu: 2 exceeds spec.valuesOverlay.worker.resources.limits.cpu (1); the API server rejects pods whose requests exceed their limits",
      ]);
      expect(
        validateRuntime({
          runtime: runtime("r", { workers: { resources: { requests: { cpu: "2" }, limits: { cpu: "2000m" } } } }),
          catalogs: [],
        }),
      ).to.deep.equal([]);
    });

    it("compares the JVM heap with the memory limit in force: the spec's, else the LimitRange default, else its max", () => {
      const heap = (spec: XTrinode["spec"], rules: XTrinodePolicy["defaults"]) =>
        messages(validateRuntime({ runtime: runtime("r", spec), catalogs: [], policy: policy(rules) })).filter((m) =>
          m.includes("maxHeapSize"),
        );
      expect(heap({}, {})).to.deep.equal([]); // no limit anywhere: nothing to compare
      expect(heap({}, { maxResources: { memory: "4Gi" } })).to.deep.equal([]); // the limit defaults to the max, and the default heap to 75% of it
      expect(heap({ coordinator: { jvm: { maxHeapSize: "6G" } } }, { maxResources: { memory: "4Gi" } })).to.have.length(1);
      expect(heap({}, { maxResources: { memory: "8Gi" } })).to.deep.equal([]); // 8G = 8Gi: fits
      const spec = {
        coordinator: { jvm: { maxHeapSize: "3G" } },
        workers: { jvm: { maxHeapSize: "3072m" }, resources: { limits: { memory: "3Gi" } } },
      };
      expect(heap(spec, { defaultResources: { limits: { memory: "2Gi" } } })).to.deep.equal([
        "spec.coordinator.jvm.maxHeapSize: 3G (JVM -Xmx) exceeds the container memory limit in force, 2Gi (the namespace LimitRange default, policy defaults.defaultResources.limits.memory); the container would be OOM-killed. Lower maxHeapSize (about 70-80% of the limit leaves room for off-heap memory) or raise the memory limit",
      ]);
    });

    it("checks the policy the operator passes: only the rules of the runtime's namespace", () => {
      const broken = policy({}, { "team-b": { defaultResources: { requests: { cpu: "2" }, limits: { cpu: "1" } } } });
      expect(validateRuntime({ runtime: runtime("a"), catalogs: [], policy: broken })).to.deep.equal([]);
      expect(() => renderRuntime({ runtime: runtime("b", {}, "team-b"), catalogs: [], policy: broken })).to.throw(
        RenderError,
        /XTrinodePolicy\/\?: namespaces\.team-b\.defaultResources\.requests\.cpu: 2 exceeds defaultResources\.limits\.cpu \(1\)/,
      );
    });

    it("accepts the ResourceQuota names the API server knows, refuses others", () => {
      const quota = {
        "requests.cpu": 1,
        pods: 1,
        "count/deployments.apps": 1,
        "requests.nvidia.com/gpu": 1,
        "requests.hugepages-2Mi": 1,
        "services.loadbalancers": 1,
        "gold.storageclass.storage.k8s.io/requests.storage": 1,
      };
      const set: SpecSet = { runtimes: [runtime("a")], catalogs: [], policy: policy({ quota }), sources: new Map() };
      expect(validateSpecSet(set)).to.deep.equal([]);
      set.policy = policy({ quota: { cpus: 1, "requests.CPU": 1, "Count/pods": 1 } });
      expect(validateSpecSet(set).map((i) => i.path)).to.deep.equal([
        "defaults.quota.Count/pods",
        "defaults.quota.cpus",
        "defaults.quota.requests.CPU",
      ]);
    });
  });

  describe("secrets in catalog properties", () => {
    const flagged = (properties: Record<string, string>) =>
      validateRuntime({
        runtime: runtime("r", { catalogs: { names: ["c"] } }),
        catalogs: [catalog("c", { connector: "hive", properties })],
      }).map((i) => i.path);

    it("refuses secret-looking names and passwords in URLs, never echoing the value", () => {
      const secrets: Record<string, string> = {
        "connection-password": "p",
        "hive.s3.aws-secret-key": "s",
        "s3.aws-secret-key": "s",
        "hive.metastore.glue.aws-secret-key": "s",
        "azure.access-key": "k",
        "hive.azure.wasb-access-key": "k",
        "azure.oauth.secret": "s",
        "gcs.json-key": "{}",
        "bigquery.credentials-key": "k",
        "iceberg.rest-catalog.oauth2.credential": "id:secret",
        "iceberg.rest-catalog.oauth2.token": "t",
        "hive.azure.adl-credential": "c",
        "elasticsearch.auth.password": "p",
        "hive.metastore.thrift.client.ssl.key-password": "p",
        "s3.sse.customer-key": "k",
        "x.private-key": "k",
        "x.api-key": "k",
      };
      expect(flagged(secrets)).to.deep.equal(
        Object.keys(secrets)
          .sort()
          .map((k) => `spec.properties.${k}`),
      );
      const urls = {
        a: "jdbc:postgresql://db/x?user=u&password=p",
        b: "jdbc:sqlserver://db:1433;databaseName=x;password=p",
        c: "mongodb://u:p@mongo:27017/",
        d: "jdbc:mysql://u:p@db/x",
        e: "jdbc:oracle:thin:scott/tiger@db:1521/orcl",
      };
      expect(flagged(urls)).to.deep.equal(["a", "b", "c", "d", "e"].map((k) => `spec.properties.${k}`));
      const issues = validateRuntime({
        runtime: runtime("r", { catalogs: { names: ["c"] } }),
        catalogs: [catalog("c", { connector: "hive", properties: { "connection-password": "hunter2" } })],
      });
      expect(issues[0].message).to.contain("spec.secretProperties.connection-password: {secretName, key}").and.to.not.contain("hunter2");
    });

    it("accepts harmless Trino properties: access key IDs, providers, paths, switches, placeholders, URLs without passwords", () => {
      expect(
        flagged({
          "hive.s3.aws-access-key": "AKIA",
          "s3.aws-access-key": "AKIA",
          "elasticsearch.aws.access-key": "AKIA",
          "kinesis.access-key": "AKIA",
          "hive.metastore.glue.aws-credentials-provider": "com.example.P",
          "bigquery.credentials-file": "/etc/bq.json",
          "gcs.json-key-file-path": "/etc/gcs.json",
          "prometheus.bearer-token-file": "/var/run/token",
          "hive.gcs.use-access-token": "true",
          "iceberg.rest-catalog.oauth2.token-refresh-enabled": "false",
          "hive.s3.sse.kms-key-id": "arn:aws:kms:key",
          "connection-user": "app",
          "connection-password": "${ENV:DB_PASSWORD}",
          "empty.password": "",
          "connection-url": "jdbc:postgresql://db:5432/x?user=app&password=${ENV:PW}",
          "hive.metastore.uri": "thrift://u@metastore:9083",
          "abfs.path": "abfs://container@account.dfs.core.windows.net/x",
          "hive.security": "allow-all",
          "s3.endpoint": "http://minio:9000",
        }),
      ).to.deep.equal([]);
    });
  });

  describe("empty spec sets", () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), "xtn-empty-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("refuses a directory without .yaml/.yml/.json files", async () => {
      const empty = path.join(dir, "empty");
      mkdirSync(path.join(empty, "nested"), { recursive: true });
      writeFileSync(path.join(empty, "README.md"), "# specs\n");
      writeFileSync(path.join(empty, "nested", "runtime.yml.bak"), "kind: XTrinode\n");
      const error = await loadSpecs([empty]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(SpecLoadError);
      expect((error as Error).message).to.equal(`${empty}: no spec files (.yaml, .yml, .json) under ${empty}`);
    });

    it("refuses a set without XTrinode unless allowEmpty, naming the files read", async () => {
      const a = path.join(dir, "a.yaml");
      const b = path.join(dir, "b.yaml");
      writeFileSync(a, "# nothing yet\n");
      writeFileSync(b, "apiVersion: xtrinode.io/v1alpha1\nkind: XTrinodeCatalog\nmetadata: {name: c}\nspec: {connector: tpch}\n");
      const one = await loadSpecs([a]);
      expect(validateSpecSet(one)).to.deep.equal([
        {
          file: a,
          path: "",
          message:
            "has no XTrinode documents; rendering the specs would remove every runtime. Add XTrinode specs, or confirm that no runtimes are wanted (allowEmpty; CLI --allow-empty)",
        },
      ]);
      const two = await loadSpecs([a, b]);
      expect(validateSpecSet(two)[0].message).to.match(/^no XTrinode documents in the spec files \(.*a\.yaml, .*b\.yaml\);/);
      expect(() => renderAll(two)).to.throw(RenderError, /no XTrinode documents/);
      expect(validateSpecSet(two, { allowEmpty: true })).to.deep.equal([]);
      const result = renderAll(two, { allowEmpty: true });
      expect(result.runtimes).to.deep.equal([]);
      expect(result.routes.routes).to.deep.equal([]);
    });
  });

  describe("default JVM heap", () => {
    const heapOf = (object: KubeObject | undefined) => /-Xmx([0-9]+[MG])/.exec(JSON.stringify(object))?.[1];
    const coordinatorJvm = (objects: KubeObject[]) =>
      objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-trino-coordinator"));
    it("is 75% of a smaller memory limit in force (the container's, else the namespace default), else the chart's 8G", () => {
      const policy: XTrinodePolicy = {
        apiVersion: "xtrinode.io/v1alpha1",
        kind: "XTrinodePolicy",
        defaults: { defaultResources: { limits: { memory: "2Gi" } } },
      };
      const underDefault = renderRuntime({ runtime: runtime("a"), catalogs: [], policy });
      expect(heapOf(coordinatorJvm(underDefault.objects))).to.equal("1536M");
      const ownLimit = renderRuntime({
        runtime: runtime("a", { coordinator: { resources: { limits: { memory: "4Gi" } } } }),
        catalogs: [],
        policy,
      });
      expect(heapOf(coordinatorJvm(ownLimit.objects))).to.equal("3072M");
      expect(heapOf(coordinatorJvm(renderRuntime({ runtime: runtime("a"), catalogs: [] }).objects))).to.equal("8G");
      const big = renderRuntime({ runtime: runtime("a", { coordinator: { resources: { limits: { memory: "64Gi" } } } }), catalogs: [] });
      expect(heapOf(coordinatorJvm(big.objects))).to.equal("8G");
      const maxOnly: XTrinodePolicy = {
        apiVersion: "xtrinode.io/v1alpha1",
        kind: "XTrinodePolicy",
        defaults: { maxResources: { memory: "4Gi" } },
      };
      expect(heapOf(coordinatorJvm(renderRuntime({ runtime: runtime("a"), catalogs: [], policy: maxOnly }).objects))).to.equal("3072M");
    });
    it("keeps query.max-memory-per-node within what Trino accepts for the heap (≤ 60% of it, at most the chart's 1GB)", () => {
      const perNode = (objects: KubeObject[]) => /query\.max-memory-per-node=(\S+?)\\n/.exec(JSON.stringify(coordinatorJvm(objects)))?.[1];
      const policy: XTrinodePolicy = {
        apiVersion: "xtrinode.io/v1alpha1",
        kind: "XTrinodePolicy",
        defaults: { defaultResources: { limits: { memory: "1Gi" } } },
      };
      expect(perNode(renderRuntime({ runtime: runtime("a"), catalogs: [], policy }).objects)).to.equal("460MB"); // heap 768M
      expect(
        perNode(renderRuntime({ runtime: runtime("a", { coordinator: { jvm: { maxHeapSize: "1G" } } }), catalogs: [] }).objects),
      ).to.equal("614MB");
      expect(perNode(renderRuntime({ runtime: runtime("a"), catalogs: [] }).objects)).to.equal("1GB");
    });
  });
});
