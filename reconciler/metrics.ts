// Prometheus metrics of one operator instance (its own Registry). The per-runtime gauges are read
// from the leader's informer cache at scrape time (standbys have no controller and export none), so
// alerts see every runtime's phase and conditions without a second source of truth.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { XTrinode } from "../schemas/generated/types.ts";

export interface OperatorMetrics {
  registry: Registry;
  reconcileDuration: Histogram<"outcome">;
  reconcileTotal: Counter<"outcome">;
  queueDepth: Gauge;
  objectsApplied: Counter<"kind" | "verb">;
  leader: Gauge;
  /** Where the per-runtime gauges read the runtimes from (the leader's informer cache; none until it leads). */
  runtimeSource: { current: () => XTrinode[] };
}

export function createOperatorMetrics(): OperatorMetrics {
  const registry = new Registry();
  const runtimeSource = { current: (): XTrinode[] => [] };
  registerRuntimeGauges(registry, runtimeSource);
  return {
    registry,
    reconcileDuration: new Histogram({
      name: "xtrinode_operator_reconcile_duration_seconds",
      help: "Duration of one runtime reconcile, by outcome (success, error).",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    reconcileTotal: new Counter({
      name: "xtrinode_operator_reconcile_total",
      help: "Runtime reconciles by outcome (success, error).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "xtrinode_operator_workqueue_depth",
      help: "Runtime keys waiting in the work queue.",
      registers: [registry],
    }),
    objectsApplied: new Counter({
      name: "xtrinode_operator_objects_applied_total",
      help: "Kubernetes objects written (server-side apply or prune delete), by kind.",
      labelNames: ["kind", "verb"],
      registers: [registry],
    }),
    leader: new Gauge({ name: "xtrinode_operator_leader", help: "1 while this instance holds the leader lease.", registers: [registry] }),
    runtimeSource,
  };
}

function registerRuntimeGauges(registry: Registry, source: { current: () => XTrinode[] }): void {
  const registers = [registry];
  new Gauge({
    name: "xtrinode_operator_runtime_phase",
    help: "1 for each runtime's current status.phase (only the current phase has a series); exported by the leader.",
    labelNames: ["namespace", "runtime", "phase"],
    registers,
    collect() {
      this.reset();
      for (const runtime of source.current()) {
        this.set(
          { namespace: runtime.metadata.namespace ?? "default", runtime: runtime.metadata.name, phase: runtime.status?.phase ?? "Pending" },
          1,
        );
      }
    },
  });
  new Gauge({
    name: "xtrinode_operator_runtime_condition",
    help: "1 for each condition of each runtime's status, by type, status (True, False, Unknown) and reason; exported by the leader.",
    labelNames: ["namespace", "runtime", "type", "status", "reason"],
    registers,
    collect() {
      this.reset();
      for (const runtime of source.current()) {
        for (const condition of runtime.status?.conditions ?? []) {
          this.set(
            {
              namespace: runtime.metadata.namespace ?? "default",
              runtime: runtime.metadata.name,
              type: condition.type,
              status: condition.status,
              reason: condition.reason ?? "",
            },
            1,
          );
        }
      }
    },
  });
}
