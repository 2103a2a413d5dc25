// Behaviour of renderRuntime / renderAll beyond the goldens: determinism, rollouts, suspension,
// autoscaler ownership, secrets, injection safety, loading.
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import yaml from "js-yaml";
import {
  loadSpecs,
  renderAll,
  renderRuntime,
  renderNamespace,
  RenderError,
  SpecLoadError,
  toYamlStream,
  type KubeObject,
  type RenderedRuntime,
  type SpecSet,
} from "../../renderer/index.ts";
import { skeletonCacheSize, template } from "../../renderer/templates.ts";
import type { XTrinode, XTrinodeCatalog } from "../../schemas/generated/types.ts";
import { catalog, goldenText, renderFixture, runtime, specsDir } from "./support.ts";

const find = (r: RenderedRuntime, kind: string, suffix = ""): KubeObject | undefined =>
  r.objects.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
const podAnnotations = (r: RenderedRuntime, role: "coordinator" | "worker") =>
  (find(r, "Deployment", `-${role}`)!.spec as any).template.metadata.annotations as Record<string, string>;

describe("renderer behaviour", () => {
  it("is deterministic: same input, byte-identical output, whatever the document order", async () => {
    const set = await loadSpecs([path.join(specsDir, "shared-catalogs.yaml")]);
    const first = goldenText(renderAll(set));
    const reversed: SpecSet = { ...set, runtimes: [...set.runtimes].reverse(), catalogs: [...set.catalogs].reverse() };
    expect(goldenText(renderAll(reversed))).to.equal(first);
    expect(goldenText(renderAll(set))).to.equal(first);
  });

  it('defaults the namespace to "default"', async () => {
    const result = await renderFixture("minimal");
    expect(result.runtimes[0].namespace).to.equal("default");
    expect(result.objects.every((o) => o.metadata.namespace === "default")).to.equal(true);
    expect(result.routes.routes[0]).to.deep.include({
      namespace: "default",
      backend: "http://minimal-trino.default.svc.cluster.local:8080",
      state: "RUNNING",
    });
  });

  it("labels every object with the recommended labels and the ownership label", async () => {
    for (const name of ["fixed-workers", "node-pool", "keda-prometheus", "extra-config"]) {
      const result = await renderFixture(name);
      for (const r of result.runtimes) {
        for (const o of r.objects) {
          expect(o.metadata.labels, `${o.kind}/${o.metadata.name}`).to.include({
            "app.kubernetes.io/name": "trino",
            "app.kubernetes.io/instance": r.name,
            "app.kubernetes.io/managed-by": "xtrinode",
            "xtrinode.io/runtime": r.name,
          });
          expect(o.metadata.labels).to.have.property("app.kubernetes.io/component");
        }
      }
    }
    const guardrails = (await renderFixture("guardrails")).namespaces[0].objects;
    expect(guardrails.map((o) => o.kind)).to.deep.equal(["ResourceQuota", "LimitRange"]);
    for (const o of guardrails) expect(o.metadata.labels).to.include({ "xtrinode.io/guardrails": "true" });
  });

  it("renders no guardrails for a namespace without rules", () => {
    expect(renderNamespace("team-x", undefined)).to.deep.equal([]);
  });

  describe("rollouts through checksum annotations", () => {
    const pg = catalog("pg", { connector: "postgresql", properties: { "connection-url": "jdbc:postgresql://a/db" } });
    const tpch = catalog("tpch", { connector: "tpch" });
    const base = (spec: XTrinode["spec"] = {}) =>
      renderRuntime({ runtime: runtime("r1", { catalogs: { names: ["pg"] }, ...spec }), catalogs: [pg, tpch] });

    it("a coordinator config change rolls only the coordinator", () => {
      const before = base();
      const after = base({ coordinator: { config: { "query.max-execution-time": "1h" } } });
      expect(podAnnotations(after, "coordinator")).to.not.deep.equal(podAnnotations(before, "coordinator"));
      expect(podAnnotations(after, "worker")).to.deep.equal(podAnnotations(before, "worker"));
    });

    it("a worker config change rolls only the workers", () => {
      const before = base();
      const after = base({ workers: { config: { "task.concurrency": "8" } } });
      expect(podAnnotations(after, "worker")).to.not.deep.equal(podAnnotations(before, "worker"));
      expect(podAnnotations(after, "coordinator")).to.deep.equal(podAnnotations(before, "coordinator"));
    });

    it("a catalog change rolls coordinator and workers of runtimes selecting it, nothing else", () => {
      const pg2 = catalog("pg", { connector: "postgresql", properties: { "connection-url": "jdbc:postgresql://b/db" } });
      const other = runtime("r2", { catalogs: { names: ["tpch"] } });
      const before = [base(), renderRuntime({ runtime: other, catalogs: [pg, tpch] })];
      const after = [
        renderRuntime({ runtime: runtime("r1", { catalogs: { names: ["pg"] } }), catalogs: [pg2, tpch] }),
        renderRuntime({ runtime: other, catalogs: [pg2, tpch] }),
      ];
      for (const role of ["coordinator", "worker"] as const) {
        expect(podAnnotations(after[0], role)).to.not.deep.equal(podAnnotations(before[0], role));
        expect(podAnnotations(after[1], role)).to.deep.equal(podAnnotations(before[1], role));
      }
      expect(toYamlStream(after[1].objects)).to.equal(toYamlStream(before[1].objects));
    });
  });

  describe("suspension", () => {
    const keda = runtime("k", {
      workers: { mode: "keda", min: 1, max: 3, keda: { queryPressure: { serverAddress: "http://prom:9090" } } },
    });
    it("the operator's override suspends: zero replicas, no autoscaler, Services and ConfigMaps stay", () => {
      const running = renderRuntime({ runtime: keda, catalogs: [] });
      const suspended = renderRuntime({ runtime: keda, catalogs: [], suspended: true });
      expect(find(running, "ScaledObject")).to.exist;
      expect(find(suspended, "ScaledObject")).to.equal(undefined);
      expect((find(suspended, "Deployment", "-coordinator")!.spec as any).replicas).to.equal(0);
      expect((find(suspended, "Deployment", "-worker")!.spec as any).replicas).to.equal(0);
      expect(suspended.objects.filter((o) => o.kind === "Service")).to.have.length(2);
      expect(suspended.objects.filter((o) => o.kind === "ConfigMap")).to.have.length(3);
    });
    it("an explicit suspended: false overrides spec.lifecycle.suspended", () => {
      const r = renderRuntime({
        runtime: runtime("s", { lifecycle: { suspended: true }, workers: { count: 2 } }),
        catalogs: [],
        suspended: false,
      });
      expect((find(r, "Deployment", "-worker")!.spec as any).replicas).to.equal(2);
      expect((find(r, "Deployment", "-coordinator")!.spec as any).replicas).to.equal(1);
    });
    it("suspended runtimes route as PAUSED, others as RUNNING", async () => {
      const states = (await renderFixture("suspended")).routes.routes.map((r) => r.state);
      expect(states).to.deep.equal(["PAUSED", "PAUSED"]);
      expect((await renderFixture("fixed-workers")).routes.routes[0].state).to.equal("RUNNING");
    });
    it("scales the node pool to zero too", () => {
      const policy = {
        apiVersion: "xtrinode.io/v1alpha1" as const,
        kind: "XTrinodePolicy" as const,
        defaults: { allowedNodePoolClasses: ["c"] },
      };
      const r = renderRuntime({
        runtime: runtime("p", { nodePool: { class: "c", instanceType: "m5.large", min: 2 } }),
        catalogs: [],
        policy,
        suspended: true,
      });
      expect((find(r, "MachineDeployment")!.spec as any).replicas).to.equal(0);
    });
  });

  describe("worker replicas and autoscalers", () => {
    it("never sets worker replicas when KEDA owns them", async () => {
      const r = (await renderFixture("keda-prometheus")).runtimes[0];
      expect(find(r, "Deployment", "-worker")!.spec).to.not.have.property("replicas");
      expect(find(r, "HorizontalPodAutoscaler")).to.equal(undefined);
      const so = find(r, "ScaledObject")!.spec as any;
      expect(so.scaleTargetRef.name).to.equal(find(r, "Deployment", "-worker")!.metadata.name);
      expect(so.triggers[0]).to.deep.include({ type: "prometheus", name: "query-pressure" });
      expect(so.triggers[0].metadata.query).to.equal(
        'sum(xtrinode_gateway_query_pressure{namespace="team-b",runtime="adhoc"}) or vector(0)',
      );
    });
    it("never sets worker replicas when an HPA owns them", async () => {
      const r = (await renderFixture("hpa-overlay")).runtimes[0];
      expect(find(r, "Deployment", "-worker")!.spec).to.not.have.property("replicas");
      expect((find(r, "HorizontalPodAutoscaler")!.spec as any).scaleTargetRef.name).to.equal("etl-trino-worker");
      expect(find(r, "ScaledObject")).to.equal(undefined);
    });
    it("rejects KEDA and an HPA together", () => {
      const policy = {
        apiVersion: "xtrinode.io/v1alpha1" as const,
        kind: "XTrinodePolicy" as const,
        defaults: { allowValuesOverlay: true },
      };
      const both = runtime("b", {
        workers: { mode: "keda", max: 2, keda: { queryPressure: { serverAddress: "http://p:9090" } } },
        valuesOverlay: { server: { autoscaling: { enabled: true } } },
      });
      expect(() => renderRuntime({ runtime: both, catalogs: [], policy })).to.throw(RenderError, /cannot both scale the workers/);
    });
    it("gives graceful shutdown a preStop hook and at least twice the grace period to terminate", async () => {
      const r = (await renderFixture("fixed-workers")).runtimes[0];
      const pod = (find(r, "Deployment", "-worker")!.spec as any).template.spec;
      expect(pod.terminationGracePeriodSeconds).to.be.at.least(2 * 60);
      expect(pod.containers[0].lifecycle.preStop.exec.command.join(" ")).to.contain("SHUTTING_DOWN");
      const off = (await renderFixture("extra-config")).runtimes[0];
      expect((find(off, "Deployment", "-worker")!.spec as any).template.spec.containers[0]).to.not.have.property("lifecycle");
    });
  });

  describe("secrets", () => {
    const planted = ["PLANTED-SECRET-0xDEADBEEF", "hunter2-planted-password", "AKIAPLANTEDKEY000000"];
    it("never renders a secret value, wherever it is planted in the input", () => {
      // Secret values reach the operator in cluster objects next to the specs: annotations,
      // last-applied configuration, status. None of it may reach values or manifests.
      const cat = catalog("pg", {
        connector: "postgresql",
        properties: { "connection-url": "jdbc:postgresql://db/x" },
        secretProperties: { "connection-password": { secretName: "pg-secret", key: "password" } },
      });
      cat.metadata.annotations = { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ password: planted[0] }) };
      (cat as any).status = { conditions: [{ type: "Ready", status: "True", message: planted[1] }] };
      const rt = runtime("r", { catalogs: { names: ["pg"] } });
      rt.metadata.annotations = { "example.com/token": planted[2] };
      (rt as any).status = { message: planted[0] };
      const fakeSecret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "pg-secret", namespace: "team-a" },
        stringData: { password: planted[1] },
      };
      const rendered = renderRuntime({ runtime: rt, catalogs: [cat] });
      const output = toYamlStream([rendered.values, ...rendered.objects, rendered.route, rendered.secretRefs]) + JSON.stringify(rendered);
      for (const secret of planted) expect(output, `planted ${secret}`).to.not.contain(secret);
      // The grep is live: the references themselves are there.
      expect(output).to.contain("pg-secret").and.to.contain("XTN_CAT_PG_CONNECTION_PASSWORD");
      void fakeSecret;
    });
    it("reports secret references (not values) for the operator", () => {
      const cat = catalog("lake", {
        connector: "iceberg",
        secretProperties: { "s3.aws-secret-key": { secretName: "lake-s3", key: "secret" } },
      });
      const r = renderRuntime({ runtime: runtime("r", { catalogs: { names: ["lake"] } }), catalogs: [cat] });
      expect(r.secretRefs).to.deep.equal([
        { catalog: "lake", property: "s3.aws-secret-key", secretName: "lake-s3", key: "secret", env: "XTN_CAT_LAKE_S3_AWS_SECRET_KEY" },
      ]);
      expect(r.catalogs).to.deep.equal(["lake"]);
    });
  });

  describe("injection safety", () => {
    it("a property value cannot add a property line", () => {
      const cat = catalog("c", { connector: "memory", properties: { "memory.max-data-per-node": "1GB\nconnector.name=evil" } });
      const r = renderRuntime({ runtime: runtime("r", { catalogs: { names: ["c"] } }), catalogs: [cat] });
      const text = (find(r, "ConfigMap", "-catalog")!.data as Record<string, string>)["c.properties"];
      expect(text.split("\n").filter((l) => l.startsWith("connector.name="))).to.deep.equal(["connector.name=memory"]);
    });
    it("a YAML-breaking string stays one field value", () => {
      const nasty = 'x"\n---\nkind: Secret\nmetadata: {name: pwned}\n# {{evil}}';
      const rt = runtime("r", { catalogs: { names: ["c"] }, valuesOverlay: { coordinator: { annotations: { note: nasty } } } });
      const cat = catalog("c", { connector: "memory", properties: { comment: nasty } });
      const policy = {
        apiVersion: "xtrinode.io/v1alpha1" as const,
        kind: "XTrinodePolicy" as const,
        defaults: { allowValuesOverlay: true },
      };
      const r = renderRuntime({ runtime: rt, catalogs: [cat], policy });
      expect(r.objects.map((o) => o.kind)).to.not.include("Secret");
      expect((find(r, "Deployment", "-coordinator")!.spec as any).template.metadata.annotations.note).to.equal(nasty);
      // Labels are copied onto every object, so a label that is not a valid Kubernetes label is refused.
      const labelled = runtime("l");
      labelled.metadata.labels = { note: nasty };
      expect(() => renderRuntime({ runtime: labelled, catalogs: [] })).to.throw(
        RenderError,
        /metadata\.labels\.note: must be a valid label value/,
      );
      const token = renderRuntime({ runtime: runtime("t", { coordinator: { config: { a: "__xtn_slot_0__" } } }), catalogs: [] });
      expect((find(token, "ConfigMap", "-coordinator")!.data as Record<string, string>)["config.properties"]).to.contain(
        "a=__xtn_slot_0__",
      );
      const reparsed = yaml.loadAll(toYamlStream(r.objects)) as KubeObject[];
      expect(reparsed).to.have.length(r.objects.length);
    });
  });

  it("a broken catalog blocks only the runtimes selecting it", () => {
    const broken = { ...catalog("broken", { connector: "tpch" }), spec: { conector: "tpch" } } as unknown as XTrinodeCatalog;
    const ok = catalog("ok", { connector: "tpch" });
    expect(renderRuntime({ runtime: runtime("a", { catalogs: { names: ["ok"] } }), catalogs: [broken, ok] }).catalogs).to.deep.equal([
      "ok",
    ]);
    expect(() => renderRuntime({ runtime: runtime("b", { catalogs: { names: ["broken"] } }), catalogs: [broken, ok] })).to.throw(
      RenderError,
      /XTrinodeCatalog\/team-a\/broken: spec.conector: unknown field "conector"; did you mean "connector"\?/,
    );
  });

  it("compiles each template once, and parses each template branch's skeleton once", async () => {
    expect(template("deployment-worker")).to.equal(template("deployment-worker"));
    await renderFixture("shared-catalogs");
    const size = skeletonCacheSize();
    for (let i = 0; i < 20; i++)
      renderRuntime({
        runtime: runtime(`r${i}`, { workers: { count: i + 1 }, coordinator: { config: { [`k${i}`]: `v${i}` } } }),
        catalogs: [],
      });
    expect(skeletonCacheSize()).to.equal(size);
  });

  describe("loading spec files", () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), "xtn-load-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("keeps file and document index per document, walking directories", async () => {
      writeFileSync(
        path.join(dir, "a.yaml"),
        "# c\n---\napiVersion: xtrinode.io/v1alpha1\nkind: XTrinode\nmetadata: {name: a}\nspec: {}\n---\napiVersion: xtrinode.io/v1alpha1\nkind: XTrinodeCatalog\nmetadata: {name: c}\nspec: {connector: tpch}\n",
      );
      writeFileSync(path.join(dir, "ignored.txt"), "not yaml: [");
      for (const skipped of ["node_modules", ".git"]) {
        mkdirSync(path.join(dir, skipped));
        writeFileSync(path.join(dir, skipped, "x.yaml"), "not: [valid");
      }
      const set = await loadSpecs([dir]);
      expect(set.runtimes).to.have.length(1);
      expect(set.sources.get(set.catalogs[0])).to.deep.equal({ file: path.join(dir, "a.yaml"), document: 1, line: 8 });
      expect(set.sources.get(set.runtimes[0])).to.deep.include({ document: 0, line: 3 });
    });
    it("names the file and line of malformed YAML", async () => {
      const file = path.join(dir, "bad.yaml");
      writeFileSync(file, "kind: XTrinode\nmetadata:\n  name: [unclosed\n");
      try {
        await loadSpecs([file]);
        expect.fail("should throw");
      } catch (error) {
        expect(error).to.be.instanceOf(SpecLoadError);
        expect((error as Error).message).to.match(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+: invalid YAML`));
      }
    });
    it("rejects an unknown kind and a missing path", async () => {
      const file = path.join(dir, "cm.yaml");
      writeFileSync(file, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
      await loadSpecs([file]).then(
        () => expect.fail("should throw"),
        (e) => expect(e.message).to.contain('kind "ConfigMap"'),
      );
      await loadSpecs([path.join(dir, "nope")]).then(
        () => expect.fail("should throw"),
        (e) => expect(e.message).to.contain("no such file"),
      );
    });
  });
});
