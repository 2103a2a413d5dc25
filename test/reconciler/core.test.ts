// Unit tests of the operator's pure core: no network, no timers beyond the queue's own.
import { expect } from "chai";
import { releaseAutoscaledReplicas } from "../../reconciler/apply.ts";
import { fieldManager } from "../../reconciler/constants.ts";
import { decideApply, isSubset, type KubeObject } from "../../reconciler/apply-decision.ts";
import { parseDurationMs } from "../../reconciler/duration.ts";
import { observeForAcquire } from "../../reconciler/leader.ts";
import { decideIntent, decidePhase, evaluateIdle, type IntentInput } from "../../reconciler/lifecycle-decisions.ts";
import { computeStopped, coordinatorReady, nodePoolState } from "../../reconciler/readiness.ts";
import { emptyRoutes, parseRoutes, removeRoute, serializeRoutes, upsertRoute } from "../../reconciler/routes.ts";
import { buildStatus, mergeConditions, sameStatus } from "../../reconciler/status.ts";
import { WorkQueue } from "../../reconciler/workqueue.ts";
import { decodeRoutes, encodeRoutes } from "../../schemas/api/index.ts";
import { validateAgainstSchema } from "../../schemas/validate.ts";
import yaml from "js-yaml";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { filePolicySource, parsePolicyText } from "../../reconciler/policy.ts";

const configMap = (data: Record<string, string>): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", namespace: "ns", labels: { a: "1" } },
  data,
});

describe("reconciler core: desired vs live diff", () => {
  it("applies a missing object and skips one whose managed fields match, ignoring server-added fields", () => {
    expect(decideApply(configMap({ k: "v" }), undefined).apply).to.equal(true);
    const live: KubeObject = {
      ...configMap({ k: "v" }),
      metadata: {
        name: "c",
        namespace: "ns",
        labels: { a: "1" },
        uid: "u",
        resourceVersion: "7",
        creationTimestamp: "2026-01-01T00:00:00Z" as never,
      },
    };
    expect(decideApply(configMap({ k: "v" }), live)).to.deep.equal({ apply: false, reason: "unchanged" });
    expect(decideApply(configMap({ k: "changed" }), live).apply).to.equal(true);
  });

  it("treats empty lists/maps and nulls in desired as equal to absent live fields (omitempty)", () => {
    expect(isSubset({ a: [], b: {}, c: null }, {})).to.equal(true);
    expect(isSubset({ a: [1] }, {})).to.equal(false);
    expect(isSubset({ port: 8080 }, { port: "8080" })).to.equal(true);
    expect(isSubset({ list: [{ x: 1 }] }, { list: [{ x: 1, y: 2 }] })).to.equal(true);
    expect(isSubset({ list: [{ x: 1 }] }, { list: [{ x: 1 }, { x: 2 }] })).to.equal(false);
    // Quantities come back canonicalized; only quantity maps compare by value.
    expect(
      isSubset({ resources: { requests: { cpu: "0.5", memory: "2048Mi" } } }, { resources: { requests: { cpu: "500m", memory: "2Gi" } } }),
    ).to.equal(true);
    expect(isSubset({ resources: { limits: { cpu: "1" } } }, { resources: { limits: { cpu: "500m" } } })).to.equal(false);
    expect(isSubset({ version: "1" }, { version: "1.0" })).to.equal(false);
  });

  it("applies when our field manager owns a field that desired no longer sets, not when another manager does", () => {
    const managed = (manager: string) => [
      { manager, operation: "Apply", fieldsV1: { "f:metadata": { "f:labels": { "f:a": {} } }, "f:data": { "f:k": {}, "f:old": {} } } },
    ];
    const live = (manager: string): KubeObject => ({
      ...configMap({ k: "v", old: "x" }),
      metadata: { name: "c", namespace: "ns", labels: { a: "1" }, managedFields: managed(manager) } as never,
    });
    const decision = decideApply(configMap({ k: "v" }), live(fieldManager));
    expect(decision.apply).to.equal(true);
    expect(decision.reason).to.contain("data.old");
    expect(decideApply(configMap({ k: "v" }), live("kubectl")).apply).to.equal(false);
  });

  describe("lists a real API server merges by key (lib/list-merge-keys.ts)", () => {
    const trino = {
      name: "trino",
      image: "trino:479",
      env: [{ name: "A", value: "1" }],
      ports: [{ name: "http", containerPort: 8080 }],
      volumeMounts: [{ name: "cfg", mountPath: "/etc/trino" }],
    };
    const deployment = (containers: object[]): KubeObject => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "rt-coordinator", namespace: "ns" },
      spec: { template: { spec: { containers } } },
    });
    // As v1.37 records them (test/real-k8s): the operator's items, and another manager's sidecar and env var.
    const itemFields = (fields: object) => ({ ".": {}, ...fields });
    const operatorFields = {
      "f:spec": {
        "f:template": {
          "f:spec": {
            "f:containers": {
              'k:{"name":"trino"}': itemFields({
                "f:name": {},
                "f:image": {},
                "f:env": { 'k:{"name":"A"}': itemFields({ "f:name": {}, "f:value": {} }) },
                "f:ports": { 'k:{"containerPort":8080,"protocol":"TCP"}': itemFields({ "f:containerPort": {}, "f:name": {} }) },
                "f:volumeMounts": { 'k:{"mountPath":"/etc/trino"}': itemFields({ "f:mountPath": {}, "f:name": {} }) },
              }),
            },
          },
        },
      },
    };
    const live = (containers: object[], operatorOwns = operatorFields): KubeObject => {
      const object = deployment(containers);
      (object.metadata as Record<string, unknown>).managedFields = [{ manager: fieldManager, operation: "Apply", fieldsV1: operatorOwns }];
      return object;
    };
    const withDefaults = { ...trino, ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }], imagePullPolicy: "IfNotPresent" };
    const sidecar = { name: "proxy-sidecar", image: "proxy:1" };

    it("another manager's sidecar container and env var are no difference; our own items still are", () => {
      const withAdditions = [sidecar, { ...withDefaults, env: [...trino.env, { name: "EXTRA_FLAG", value: "on" }] }];
      expect(decideApply(deployment([trino]), live(withAdditions))).to.deep.equal({ apply: false, reason: "unchanged" });
      // Before keyed lists: a longer list was drift, so every resync wrote.
      expect(decideApply(deployment([trino]), live([withDefaults])).apply).to.equal(false);
      expect(decideApply(deployment([{ ...trino, image: "trino:480" }]), live(withAdditions)).reason).to.equal("drift");
      expect(decideApply(deployment([{ ...trino, env: [{ name: "A", value: "2" }] }]), live(withAdditions)).reason).to.equal("drift");
      expect(
        decideApply(deployment([trino, { name: "second", image: "x" }]), live(withAdditions)).reason,
        "a desired item missing",
      ).to.equal("drift");
    });

    it("our items in another order is a difference (an apply reorders them); items of others between ours are not", () => {
      const two = [trino, { name: "second", image: "x" }];
      expect(decideApply(deployment(two), live([withDefaults, sidecar, two[1]])).apply).to.equal(false);
      expect(decideApply(deployment(two), live([two[1], withDefaults])).reason).to.equal("drift");
    });

    it("a key field the server defaults (port protocol TCP) matches its absence in desired", () => {
      const service = (ports: object[]): KubeObject => ({ apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { ports } });
      expect(
        isSubset(
          { spec: { ports: [{ port: 8080 }] } },
          service([
            { port: 9090, protocol: "TCP" },
            { port: 8080, protocol: "TCP" },
          ]),
          false,
          { apiVersion: "v1", kind: "Service", fields: [] },
        ),
      ).to.equal(true);
      expect(
        isSubset({ spec: { ports: [{ port: 8080, protocol: "UDP" }] } }, service([{ port: 8080, protocol: "TCP" }]), false, {
          apiVersion: "v1",
          kind: "Service",
          fields: [],
        }),
      ).to.equal(false);
    });

    it("lists not in the table stay atomic (args, tolerations, custom resources)", () => {
      const withArgs = (args: string[]) => deployment([{ ...trino, args }]);
      expect(decideApply(withArgs(["a"]), live([{ ...withDefaults, args: ["a", "b"] }])).reason).to.equal("drift");
      const custom = (items: object[]): KubeObject => ({
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: { name: "s" },
        spec: { triggers: items },
      });
      expect(decideApply(custom([{ name: "a" }]), custom([{ name: "a" }, { name: "b" }])).reason).to.equal("drift");
    });

    it("an item we own and no longer desire is stale (named by its key); one only another manager owns is not", () => {
      const withOldEnv = { ...operatorFields };
      const decision = decideApply(deployment([{ ...trino, env: [] }]), live([{ ...withDefaults }], withOldEnv));
      expect(decision).to.deep.equal({ apply: true, reason: "stale fields: spec.template.spec.containers[name=trino].env[name=A]" });
      const sidecarOwned = {
        "f:spec": {
          "f:template": {
            "f:spec": {
              "f:containers": {
                ...operatorFields["f:spec"]["f:template"]["f:spec"]["f:containers"],
                'k:{"name":"old-sidecar"}': itemFields({ "f:name": {}, "f:image": {} }),
              },
            },
          },
        },
      };
      expect(decideApply(deployment([trino]), live([withDefaults, sidecar], sidecarOwned)).reason).to.equal(
        "stale fields: spec.template.spec.containers[name=old-sidecar]",
      );
    });
  });

  it("omits spec.replicas of a Deployment that a ScaledObject or HPA scales, and only that one", () => {
    const deployment = (name: string): KubeObject => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name },
      spec: { replicas: 2, template: {} },
    });
    const scaled: KubeObject = {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "w" },
      spec: { scaleTargetRef: { name: "rt-worker" } },
    };
    const out = releaseAutoscaledReplicas([deployment("rt-coordinator"), deployment("rt-worker"), scaled]);
    expect((out[0].spec as { replicas?: number }).replicas).to.equal(2);
    expect(out[1].spec as object).to.not.have.property("replicas");
    expect(releaseAutoscaledReplicas([deployment("rt-worker")])[0].spec).to.have.property("replicas", 2);
    const hpa: KubeObject = {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "w" },
      spec: { scaleTargetRef: { kind: "Deployment", name: "rt-worker" } },
    };
    expect(releaseAutoscaledReplicas([deployment("rt-worker"), hpa])[0].spec as object).to.not.have.property("replicas");
  });
});

describe("reconciler core: routes document", () => {
  const entry = (namespace: string, name: string, state: "RUNNING" | "PAUSED" = "RUNNING") => ({
    name,
    namespace,
    backend: `http://${name}-trino.${namespace}.svc.cluster.local:8080`,
    state,
  });

  it("keeps one entry per runtime, sorted by namespace then name, and is valid per the schema", () => {
    let doc = emptyRoutes();
    for (const [ns, name] of [
      ["b", "x"],
      ["a", "z"],
      ["a", "y"],
    ])
      doc = upsertRoute(doc, entry(ns, name));
    doc = upsertRoute(doc, entry("a", "z", "PAUSED"));
    expect(doc.routes.map((r) => `${r.namespace}/${r.name}/${r.state}`)).to.deep.equal(["a/y/RUNNING", "a/z/PAUSED", "b/x/RUNNING"]);
    const text = serializeRoutes(doc);
    expect(validateAgainstSchema("GatewayRoutes", yaml.load(text))).to.deep.equal([]);
    expect(parseRoutes(text)).to.deep.equal(doc);
    expect(removeRoute(doc, "a", "z").routes).to.have.length(2);
  });

  it("writes exactly the text of the routes codec, entry by entry, and reads back what it wrote", () => {
    let doc = emptyRoutes();
    expect(serializeRoutes(doc)).to.equal(encodeRoutes(doc));
    const odd = {
      ...entry("b", "yes"),
      hostnames: ["a.example.com", "b.example.com"],
      default: true,
      state: "FAILED" as const,
      message: "coordinator: 'quoted' \"twice\"\nsecond line: # not a comment",
      updatedAt: "2026-12-03T10:00:00.000Z",
    };
    for (const e of [entry("b", "x"), odd, entry("a", "z"), { ...entry("a", "y"), pool: "gpu" }]) {
      doc = upsertRoute(doc, e);
      // The second time from the entries already encoded.
      for (let i = 0; i < 2; i++) expect(serializeRoutes(doc)).to.equal(encodeRoutes(doc));
    }
    const text = serializeRoutes(doc);
    expect(parseRoutes(text)).to.deep.equal(doc);
    expect(parseRoutes(text)).to.deep.equal(decodeRoutes(text, { mode: "lenient" }).document);
    // A bad entry (not the schema's) is written as given, and dropped by the next read as any other.
    const bad = upsertRoute(doc, { ...entry("a", "bad"), backend: "not a url" });
    expect(parseRoutes(serializeRoutes(bad)).routes.map((r) => r.name)).to.deep.equal(doc.routes.map((r) => r.name));
  });

  it("returns the same document when nothing changes (no write), ignoring updatedAt", () => {
    const doc = upsertRoute(emptyRoutes(), { ...entry("a", "x"), updatedAt: "2026-01-01T00:00:00Z" });
    expect(upsertRoute(doc, entry("a", "x"))).to.equal(doc);
    expect(removeRoute(doc, "a", "missing")).to.equal(doc);
  });

  it("drops entries that do not match the schema and survives unreadable YAML", () => {
    const text = yaml.dump({
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "GatewayRoutes",
      routes: [entry("a", "ok"), { name: "Bad Name", namespace: "a", backend: "x", state: "RUNNING" }],
    });
    expect(parseRoutes(text).routes.map((r) => r.name)).to.deep.equal(["ok"]);
    expect(parseRoutes("routes: [unclosed").routes).to.deep.equal([]);
  });
});

describe("reconciler core: lifecycle", () => {
  const t0 = Date.parse("2026-06-01T12:00:00Z");
  const at = (ms: number) => new Date(t0 + ms);
  const timers = { drainPeriodMs: 30_000, maxDrainMs: 300_000 };
  const input = (overrides: Partial<IntentInput>): IntentInput => ({
    now: at(0),
    suspendedIntent: false,
    status: {},
    timers,
    ...overrides,
  });

  it("idle rule: now − max(last-activity, resume-requested-at, readySince) > wakeTTL", () => {
    const base = { wakeTTLMs: 60_000, lastActivity: at(-30_000).toISOString(), status: { readySince: at(-600_000).toISOString() } };
    expect(evaluateIdle({ ...base, now: at(0) })).to.deep.equal({ idle: false, idleInMs: 30_001 });
    expect(evaluateIdle({ ...base, now: at(31_000) }).idle).to.equal(true);
    expect(evaluateIdle({ ...base, now: at(31_000), resumeRequestedAt: at(20_000).toISOString() }).idle).to.equal(false);
    expect(evaluateIdle({ now: at(0), status: { readySince: at(-1e9).toISOString() } }).idle).to.equal(false); // no wakeTTL
    expect(evaluateIdle({ now: at(0), wakeTTLMs: 1, status: {} }).idle).to.equal(false); // never ready, never used
  });

  it("suspend intent on a serving runtime: DRAINING with compute up, then PAUSED and scaled to zero, then Suspended", () => {
    const ready = { phase: "Ready" as const, routeState: "RUNNING" as const };
    const draining = decideIntent(input({ suspendedIntent: true, status: ready }));
    expect(draining).to.include({ suspend: true, draining: true, scaleToZero: false, requeueAfterMs: 30_001 });
    expect(decidePhase(draining, "Ready", { coordinatorReady: true, computeStopped: false })).to.deep.equal({
      phase: "Suspending",
      routeState: "DRAINING",
    });

    const suspending = { phase: "Suspending" as const, routeState: "DRAINING" as const, suspendedAt: draining.suspendedAt };
    const stillDraining = decideIntent(input({ now: at(10_000), suspendedIntent: true, status: suspending }));
    expect(stillDraining.draining).to.equal(true);
    expect(stillDraining.suspendedAt).to.equal(draining.suspendedAt);

    const drained = decideIntent(input({ now: at(31_000), suspendedIntent: true, status: suspending }));
    expect(drained).to.include({ draining: false, scaleToZero: true });
    expect(decidePhase(drained, "Suspending", { coordinatorReady: true, computeStopped: false })).to.deep.equal({
      phase: "Suspending",
      routeState: "PAUSED",
    });
    expect(decidePhase(drained, "Suspending", { coordinatorReady: false, computeStopped: true })).to.deep.equal({
      phase: "Suspended",
      routeState: "PAUSED",
    });
  });

  it("gateway activity during a drain extends it, up to maxDrain", () => {
    const status = { phase: "Suspending" as const, routeState: "DRAINING" as const, suspendedAt: at(0).toISOString() };
    const busy = decideIntent(input({ now: at(40_000), suspendedIntent: true, status, lastActivity: at(35_000).toISOString() }));
    expect(busy).to.include({ draining: true, requeueAfterMs: 25_001 });
    const capped = decideIntent(input({ now: at(300_001), suspendedIntent: true, status, lastActivity: at(300_000).toISOString() }));
    expect(capped).to.include({ draining: false, scaleToZero: true });
  });

  it("a runtime that was not serving suspends without draining; idle suspends without touching intent", () => {
    expect(decideIntent(input({ suspendedIntent: true, status: { phase: "Reconciling", routeState: "RESUMING" } }))).to.include({
      draining: false,
      scaleToZero: true,
    });
    const idle = decideIntent(
      input({ wakeTTLMs: 1000, status: { phase: "Ready", routeState: "RUNNING", readySince: at(-5000).toISOString() } }),
    );
    expect(idle).to.include({ suspend: true, idle: true, draining: true });
  });

  it("resume: Suspended → Resuming → Reconciling → Ready", () => {
    const running = decideIntent(input({ status: { phase: "Suspended", routeState: "PAUSED" } }));
    expect(running).to.include({ suspend: false, scaleToZero: false });
    expect(decidePhase(running, "Suspended", { coordinatorReady: false, computeStopped: true })).to.deep.equal({
      phase: "Resuming",
      routeState: "RESUMING",
    });
    expect(decidePhase(running, "Resuming", { coordinatorReady: false, computeStopped: false })).to.deep.equal({
      phase: "Reconciling",
      routeState: "RESUMING",
    });
    expect(decidePhase(running, "Reconciling", { coordinatorReady: true, computeStopped: false })).to.deep.equal({
      phase: "Ready",
      routeState: "RUNNING",
    });
  });
});

describe("reconciler core: status and readiness", () => {
  const now = new Date("2026-06-01T12:00:00Z");
  const later = new Date("2026-06-01T12:05:00Z");

  it("keeps lastTransitionTime while a condition's status holds and sets observedGeneration", () => {
    const first = mergeConditions(undefined, [{ type: "Ready", status: "False", reason: "Reconciling", message: "m" }], 1, now);
    const same = mergeConditions(first, [{ type: "Ready", status: "False", reason: "Resuming", message: "m2" }], 2, later);
    expect(same[0]).to.include({ lastTransitionTime: now.toISOString(), observedGeneration: 2, reason: "Resuming" });
    const flipped = mergeConditions(same, [{ type: "Ready", status: "True", reason: "Ready", message: "ok" }], 2, later);
    expect(flipped[0].lastTransitionTime).to.equal(later.toISOString());
  });

  it("stamps readySince on becoming Ready and keeps it; equal statuses compare equal across timestamps", () => {
    const ready = buildStatus({
      previous: { phase: "Reconciling" },
      generation: 3,
      now,
      phase: "Ready",
      routeState: "RUNNING",
      conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "ok" }],
    });
    expect(ready).to.include({ phase: "Ready", readySince: now.toISOString(), observedGeneration: 3 });
    const again = buildStatus({
      previous: ready,
      generation: 3,
      now: later,
      phase: "Ready",
      routeState: "RUNNING",
      conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "ok" }],
    });
    expect(again.readySince).to.equal(now.toISOString());
    expect(sameStatus(ready, again)).to.equal(true);
    expect(sameStatus(ready, { ...again, phase: "Suspending" })).to.equal(false);
  });

  it("reads coordinator readiness, stopped compute and node pool state", () => {
    const dep = (component: string, replicas: number, ready: number): KubeObject => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: component, labels: { "app.kubernetes.io/component": component } },
      spec: { replicas },
      status: { readyReplicas: ready, replicas: ready },
    });
    expect(coordinatorReady([dep("coordinator", 1, 1), dep("worker", 2, 0)])).to.equal(true);
    expect(coordinatorReady([dep("coordinator", 1, 0)])).to.equal(false);
    expect(computeStopped([dep("coordinator", 0, 0), dep("worker", 0, 0)])).to.equal(true);
    expect(computeStopped([dep("coordinator", 0, 1)])).to.equal(false);
    const pool = (status: object): KubeObject => ({
      apiVersion: "cluster.x-k8s.io/v1beta1",
      kind: "MachineDeployment",
      metadata: { name: "p" },
      status,
    });
    expect(nodePoolState([]).state).to.equal("none");
    expect(nodePoolState([pool({ phase: "ScalingUp" })]).state).to.equal("provisioning");
    expect(nodePoolState([pool({ phase: "Running" })]).state).to.equal("ready");
    const failed = nodePoolState([pool({ phase: "Failed", failureMessage: "quota exceeded" })]);
    expect(failed.state).to.equal("failed");
    expect(failed.state !== "none" && failed.condition.message).to.contain("quota exceeded");
  });
});

describe("reconciler core: work queue, leases, durations", () => {
  it("serialises a key: an add during processing is redelivered after done, duplicates collapse", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    queue.add("a");
    queue.add("b");
    expect(queue.depth).to.equal(2);
    const first = await queue.get();
    expect(first).to.equal("a");
    queue.add("a"); // while processing: must not be handed to a second worker
    expect(await queue.get()).to.equal("b");
    let third: string | undefined;
    const pending = queue.get().then((k) => (third = k));
    await new Promise((r) => setImmediate(r));
    expect(third).to.equal(undefined);
    queue.done("a");
    await pending;
    expect(third).to.equal("a");
    queue.shutdown();
    expect(await queue.get()).to.equal(undefined);
  });

  it("backs off exponentially per key and forgets on success", () => {
    const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 350 });
    expect([1, 2, 3, 4].map(() => queue.addRateLimited("k"))).to.deep.equal([100, 200, 350, 350]);
    queue.forget("k");
    expect(queue.addRateLimited("k")).to.equal(100);
    queue.shutdown();
  });

  it("judges lease expiry from the locally observed renew time plus the duration", () => {
    const lease = { spec: { holderIdentity: "other", leaseDurationSeconds: 10 } };
    expect(observeForAcquire(undefined, "me", undefined, 0, 10_000).canAcquire).to.equal(true);
    expect(observeForAcquire({ spec: { holderIdentity: "me" } }, "me", undefined, 0, 10_000).canAcquire).to.equal(true);
    // First sight of someone else's Lease at 1000 (local clock): held for its full duration from then.
    const first = observeForAcquire(lease, "me", undefined, 1000, 10_000);
    expect(first.canAcquire).to.equal(false);
    expect(observeForAcquire(lease, "me", first.observation, 10_999, 10_000).canAcquire).to.equal(false);
    expect(observeForAcquire(lease, "me", first.observation, 11_001, 10_000).canAcquire).to.equal(true);
    // A renewal (a changed record) restarts the wait.
    const renewed = { spec: { ...lease.spec, renewTime: new Date(5000) as never } };
    expect(observeForAcquire(renewed, "me", first.observation, 11_001, 10_000).canAcquire).to.equal(false);
  });

  it("parses Go durations and rejects junk with a fix", () => {
    expect(parseDurationMs("1h30m")).to.equal(5_400_000);
    expect(parseDurationMs("250ms")).to.equal(250);
    expect(() => parseDurationMs("10 minutes")).to.throw(/Go duration/);
  });
});

describe("reconciler core: policy file", () => {
  it("loads --policy FILE and names the file and field of a bad one", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "xtrinode-policy-"));
    try {
      const good = path.join(dir, "policy.yaml");
      writeFileSync(good, "apiVersion: xtrinode.io/v1alpha1\nkind: XTrinodePolicy\ndefaults:\n  maxWorkers: 4\n");
      const source = filePolicySource(good);
      await source.reload();
      expect(source.current()).to.deep.equal({ apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinodePolicy", defaults: { maxWorkers: 4 } });
      expect(() =>
        parsePolicyText(
          "apiVersion: xtrinode.io/v1alpha1\nkind: XTrinodePolicy\ndefaults:\n  maxWorkerz: 4\n",
          "ConfigMap xtrinode-system/xtrinode-policy",
        ),
      ).to.throw(/xtrinode-policy.*defaults\.maxWorkerz.*maxWorkers/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
