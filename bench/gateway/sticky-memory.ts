// Memory of the gateway's per-query bookkeeping after N queries (default 1,000,000), driving the
// gateway's own modules directly: StickyRoutes (coordinator id → backend), QueryOwners (query →
// user and principal, for follow-up ownership checks) and InFlightQueries (the query pressure),
// with the default limits of resolveSettings().
// Two shapes: "finished" (every query ends, as normal traffic) and "abandoned" (no query ever
// ends: the bounded maps must cap memory). Run with --expose-gc; prints one JSON line.
//
//   node --expose-gc bench/gateway/sticky-memory.ts [--queries 1000000] [--coordinators 50]
import { parseArgs } from "node:util";
import { resolveSettings } from "../../gateway/config.ts";
import { InFlightQueries, QueryOwners, StickyRoutes } from "../../gateway/sticky.ts";

const { values } = parseArgs({
  options: { queries: { type: "string", default: "1000000" }, coordinators: { type: "string", default: "50" } },
});
const queries = Number(values.queries);
const coordinatorCount = Number(values.coordinators);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

function heapMiB(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

const alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
// Distinct coordinator ids (i written in base 32 with Trino's alphabet), one backend each.
const coordinators = Array.from({ length: coordinatorCount }, (_, i) => ({
  id: Array.from({ length: 5 }, (_, j) => alphabet[Math.floor(i / 32 ** j) % 32]).join(""),
  backend: `http://runtime-${i}-trino.ns.svc.cluster.local:8080`,
}));

function queryId(n: number, coordinator: string): string {
  const second = Math.floor(n / 1000);
  const stamp = `20261124_${String(Math.floor(second / 3600) % 24).padStart(2, "0")}${String(Math.floor(second / 60) % 60).padStart(2, "0")}${String(second % 60).padStart(2, "0")}`;
  return `${stamp}_${String(n % 100_000).padStart(5, "0")}_${coordinator}`;
}

function drive(shape: "finished" | "abandoned") {
  const settings = resolveSettings({}, {}).sticky;
  const before = heapMiB();
  const sticky = new StickyRoutes(settings);
  const owners = new QueryOwners(settings.maxQueries);
  // Idle sweep disabled (huge idleMs): only the size bound limits the map, the worst case.
  const inFlight = new InFlightQueries(settings.maxQueries, Number.MAX_SAFE_INTEGER);
  const started = process.hrtime.bigint();
  for (let n = 0; n < queries; n++) {
    const coordinator = coordinators[n % coordinators.length];
    const id = queryId(n, coordinator.id);
    const runtime = `ns/runtime-${n % coordinators.length}`;
    sticky.learnQuery(id, coordinator.backend); // POST response
    owners.record(id, { user: `user-${n % 1000}`, principal: `user-${n % 1000}` }); // its owner
    inFlight.running(id, runtime, coordinator.backend); // a response with nextUri
    inFlight.running(id, runtime, coordinator.backend); // a follow-up
    if (shape === "finished") inFlight.finished(id); // the last page
  }
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const after = heapMiB();
  const result = {
    shape,
    queries,
    heapDeltaMiB: Number((after - before).toFixed(2)),
    coordinatorsTracked: sticky.coordinatorCount(),
    queriesTracked: inFlight.size,
    limits: settings,
    nsPerQuery: Math.round((elapsedMs * 1e6) / queries),
  };
  // Keep the structures alive until measured.
  void sticky.knownOwner(queryId(0, coordinators[0].id));
  void owners.known(queryId(0, coordinators[0].id));
  return result;
}

const results = [drive("finished"), drive("abandoned")];
process.stdout.write(JSON.stringify({ event: "sticky-memory", results }) + "\n");
