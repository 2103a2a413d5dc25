// The operator PROCESS is killed with SIGKILL at 20+ seeded-random points while it reconciles 20
// runtimes whose specs keep changing (worker counts, suspend/resume, a delete and a replacement),
// and a new process takes over each time (leader election, as with replicas or a restarted pod). Finally it converges: every runtime in its expected phase, exactly the
// desired owned objects (no orphans, no duplicates, none missing) and exactly one valid route entry
// per runtime.
import { expect } from "chai";
import { renderRuntime } from "../../renderer/index.ts";
import { apiVersion, ownerLabel, routesConfigMapName, routesDataKey } from "../../schemas/api/index.ts";
import { prunableKinds } from "../../reconciler/constants.ts";
import type { KubeObject } from "../../reconciler/apply-decision.ts";
import { readRoutes } from "../../reconciler/routes-publisher.ts";
import { validateAgainstSchema } from "../../schemas/validate.ts";
import { gatewayNamespace, getRuntime, leaseHolder, runtime, startCluster, type Cluster } from "../reconciler/support.ts";
import { eventually } from "../support/eventually.ts";
import { killAllChildren, spawnOperator, type ChildUnderTest } from "../support/process.ts";
import { createRng, testSeed, type Rng } from "../support/rng.ts";

const RUNTIMES = 20;
const KILLS = 20;
const namespaces = ["team-a", "team-b"];

interface Desired {
  namespace: string;
  name: string;
  workers: number;
  suspended: boolean;
}

const key = (d: { namespace: string; name: string }) => `${d.namespace}/${d.name}`;
const specOf = (d: Desired) => ({ workers: { mode: "fixed", count: d.workers }, lifecycle: { suspended: d.suspended } });

function startOperator(cluster: Cluster, identity: string): Promise<ChildUnderTest> {
  return spawnOperator(
    {
      kubeconfig: cluster.server.kubeconfigPath,
      namespaceGateway: gatewayNamespace,
      identity,
      leaseDuration: "1s",
      retryPeriod: "100ms",
      drainPeriod: "100ms",
    },
    { env: { XTRINODE_LOG_LEVEL: "warn" } },
  );
}

/** Changes a few runtimes (and sometimes replaces one) so every restart finds work to do. */
async function mutate(cluster: Cluster, rng: Rng, desired: Map<string, Desired>, serial: { next: number }): Promise<string[]> {
  const actions: string[] = [];
  const all = [...desired.values()];
  for (let i = rng.int(1, 4); i > 0; i--) {
    const target = rng.pick(all);
    if (rng.chance(0.5)) target.workers = rng.int(0, 3);
    else target.suspended = !target.suspended;
    await cluster.client.mergePatch(
      { apiVersion, kind: "XTrinode", namespace: target.namespace, name: target.name },
      { spec: specOf(target) },
    );
    actions.push(`patch ${key(target)} workers=${target.workers} suspended=${target.suspended}`);
  }
  if (rng.chance(0.25)) {
    const doomed = rng.pick([...desired.values()]);
    await cluster.client.delete({ apiVersion, kind: "XTrinode", namespace: doomed.namespace, name: doomed.name });
    desired.delete(key(doomed));
    const replacement: Desired = {
      namespace: doomed.namespace,
      name: `rt-${serial.next++}`,
      workers: rng.int(0, 3),
      suspended: rng.chance(0.3),
    };
    await cluster.client.create(runtime(replacement.namespace, replacement.name, specOf(replacement)));
    desired.set(key(replacement), replacement);
    actions.push(`replace ${key(doomed)} by ${key(replacement)}`);
  }
  return actions;
}

/** Owned objects (by the ownership label) of every prunable kind in the runtime namespaces. */
async function ownedObjects(cluster: Cluster): Promise<KubeObject[]> {
  const lists = await Promise.all(
    namespaces.flatMap((namespace) => prunableKinds.map((kind) => cluster.client.list(kind.apiVersion, kind.kind, namespace, ownerLabel))),
  );
  return lists.flat();
}

describe("failure: operator SIGKILLed at random points of a reconcile", function () {
  this.timeout(180_000);
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({}, namespaces);
  });
  after(async () => {
    await killAllChildren();
    await cluster?.close();
  });

  it(`converges after ${KILLS} kills with ${RUNTIMES} runtimes: expected phases, no orphaned, duplicated or missing objects, no lost routes`, async () => {
    const rng = createRng(testSeed("operator kill"));
    const desired = new Map<string, Desired>();
    const serial = { next: 0 };
    for (let i = 0; i < RUNTIMES; i++) {
      const d: Desired = { namespace: namespaces[i % 2], name: `rt-${serial.next++}`, workers: rng.int(0, 2), suspended: i % 5 === 4 };
      desired.set(key(d), d);
      await cluster.client.create(runtime(d.namespace, d.name, specOf(d)));
    }

    // Fresh operator processes stand by (started while the leader works, as further replicas or
    // restarted pods would); each round the leader is killed at a random point and a standby takes
    // the Lease over after the lease duration, so restarts do not wait for process start-up.
    const log: string[] = [];
    const standbys = new Map<string, Promise<ChildUnderTest>>();
    let serialProcess = 0;
    const spawnStandby = () => {
      const identity = `op-${serialProcess++}`;
      const started = startOperator(cluster, identity);
      started.catch(() => undefined); // awaited when it leads; a failure surfaces there
      standbys.set(identity, started);
    };
    const nextLeader = async (): Promise<ChildUnderTest> => {
      const identity = await eventually(
        "a standby to take the Lease",
        async () => {
          const holder = await leaseHolder(cluster);
          return holder && standbys.has(holder) ? holder : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 20 },
      );
      const leader = await standbys.get(identity)!;
      standbys.delete(identity);
      return leader;
    };
    spawnStandby();
    spawnStandby();
    for (let round = 0; round < KILLS; round++) {
      const leader = await nextLeader();
      const identity = String(leader.ready.identity);
      const from = cluster.server.requestLog.entries.length;
      spawnStandby();
      if (round > 0) log.push(...(await mutate(cluster, rng, desired, serial)));
      // Kill point: a random delay after it took over, or after a random number of its writes (Lease renewals aside).
      if (rng.chance(0.5)) {
        const delayMs = rng.int(0, 1200);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        log.push(`round ${round}: kill ${identity} ${delayMs} ms after it took over`);
      } else {
        const writes = rng.int(1, 60);
        const deadline = Date.now() + 3000;
        const count = () =>
          cluster.server.requestLog.entries.slice(from).filter((e) => !e.watch && e.method !== "GET" && !e.path.includes("/leases")).length;
        while (count() < writes && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
        log.push(`round ${round}: kill ${identity} after ${count()} writes (target ${writes})`);
      }
      await leader.kill("SIGKILL");
      if (process.env.XTRINODE_TEST_VERBOSE) process.stdout.write(`      ${new Date().toISOString()} ${log.at(-1)}\n`);
    }

    const final = await nextLeader();
    const expectedPhase = (d: Desired) => (d.suspended ? "Suspended" : "Ready");
    try {
      // Converged: the expected phase, reported for the runtime's latest spec (two quick patches may leave
      // the phase of the first one standing until the second is reconciled).
      await eventually(
        "every runtime in its expected phase, for its latest generation",
        async () => {
          for (const d of desired.values()) {
            const live = await getRuntime(cluster.client, d.namespace, d.name);
            const status = live?.status as { phase?: string; observedGeneration?: number } | undefined;
            if (status?.phase !== expectedPhase(d) || status.observedGeneration !== live?.metadata?.generation) return false;
          }
          return true;
        },
        { timeoutMs: 40_000, intervalMs: 200 },
      );
      await eventually(
        "exactly the desired route entries",
        async () => {
          const routes = (await readRoutes(cluster.client, gatewayNamespace)).routes;
          return (
            routes.length === desired.size &&
            routes.every((r) => desired.get(key(r)) && r.state === (desired.get(key(r))!.suspended ? "PAUSED" : "RUNNING"))
          );
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      // Deleted runtimes are gone (their finalizers completed) and only desired runtimes exist. Waited
      // for: finalizing drops the route first, then the owned objects, then the finalizer, so a
      // deleted runtime outlives its route entry for those writes (more if a kill lands in between).
      const listLive = async () => (await Promise.all(namespaces.map((ns) => cluster.client.list(apiVersion, "XTrinode", ns)))).flat();
      const liveKeys = (objects: KubeObject[]) => objects.map((r) => key(r.metadata as { namespace: string; name: string })).sort();
      const desiredKeys = [...desired.keys()].sort();
      const live = await eventually(
        "only the desired runtimes left (deleted ones finalized)",
        async () => {
          const objects = await listLive();
          return liveKeys(objects).join() === desiredKeys.join() ? objects : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, describe: async () => liveKeys(await listLive()) },
      );
      expect(liveKeys(live)).to.deep.equal(desiredKeys);

      // Routes: a schema-valid document with exactly one entry per runtime, sorted.
      const configMap = await cluster.client.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: gatewayNamespace,
        name: routesConfigMapName,
      });
      const { load } = await import("js-yaml");
      const document = load((configMap!.data as Record<string, string>)[routesDataKey]) as {
        routes: Array<{ namespace: string; name: string }>;
      };
      expect(validateAgainstSchema("GatewayRoutes", document)).to.deep.equal([]);
      const routeKeys = document.routes.map(key);
      const byNamespaceThenName = [...desired.values()]
        .sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1))
        .map(key);
      expect(routeKeys).to.deep.equal(byNamespaceThenName);

      // Owned objects: exactly what the renderer wants for each live runtime; owner references name its current uid.
      const uidOf = new Map(live.map((r) => [key(r.metadata as { namespace: string; name: string }), (r.metadata as { uid: string }).uid]));
      const want = new Set<string>();
      for (const d of desired.values()) {
        const rendered = renderRuntime({
          runtime: { apiVersion, kind: "XTrinode", metadata: { name: d.name, namespace: d.namespace }, spec: specOf(d) } as never,
          catalogs: [],
          policy: undefined,
        });
        for (const object of rendered.objects)
          if (prunableKinds.some((k) => k.kind === object.kind))
            want.add(`${object.kind} ${d.namespace}/${(object.metadata as { name: string }).name}`);
      }
      const owned = await ownedObjects(cluster);
      const have = owned.map(
        (o) => `${o.kind} ${(o.metadata as { namespace: string }).namespace}/${(o.metadata as { name: string }).name}`,
      );
      expect(have.length, "no duplicates").to.equal(new Set(have).size);
      expect(
        have.filter((h) => !want.has(h)),
        "orphaned objects",
      ).to.deep.equal([]);
      expect(
        [...want].filter((w) => !have.includes(w)),
        "missing objects",
      ).to.deep.equal([]);
      for (const object of owned) {
        const meta = object.metadata as {
          namespace: string;
          labels: Record<string, string>;
          ownerReferences?: Array<{ uid: string; controller?: boolean }>;
        };
        const owner = `${meta.namespace}/${meta.labels[ownerLabel]}`;
        expect(meta.ownerReferences?.find((ref) => ref.controller)?.uid, `${object.kind} owner of ${owner}`).to.equal(uidOf.get(owner));
      }
      // Converged means stable: a full resync of the unchanged runtimes writes nothing (Lease renewals aside).
      const quietFrom = cluster.server.requestLog.entries.length;
      await new Promise((resolve) => setTimeout(resolve, 2500)); // > --resync-period 2s
      const writesAfter = cluster.server.requestLog.entries
        .slice(quietFrom)
        .filter((e) => !e.watch && e.method !== "GET" && !e.path.includes("/leases"));
      expect(
        writesAfter.map((e) => `${e.method} ${e.path}`),
        "writes after convergence",
      ).to.deep.equal([]);
      process.stdout.write(
        `      ${KILLS} kills (${log.filter((l) => l.includes("writes")).length} after N writes), ${log.filter((l) => !l.startsWith("round")).length} spec changes; ${owned.length} owned objects, ${desired.size} routes\n`,
      );
    } catch (error) {
      process.stdout.write(
        `      kill log:\n        ${log.join("\n        ")}\n      operator output:\n${final.output.slice(-30).join("\n")}\n`,
      );
      throw error;
    }
  });
});
