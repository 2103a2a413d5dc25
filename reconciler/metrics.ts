// Prometheus metrics of one operator instance (its own Registry).
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface OperatorMetrics {
  registry: Registry;
  reconcileDuration: Histogram<"outcome">;
  reconcileTotal: Counter<"outcome">;
  queueDepth: Gauge;
  objectsApplied: Counter<"kind" | "verb">;
  leader: Gauge;
}

export function createOperatorMetrics(): OperatorMetrics {
  const registry = new Registry();
  return {
    registry,
    reconcileDuration: new Histogram({
      name: "xtrinode_operator_reconcile_duration_seconds",
      help: "Duration of one runtime reconcile, by outcome (success, error).",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    reconcileTotal: new Counter({ name: "xtrinode_operator_reconcile_total", help: "Runtime reconciles by outcome (success, error).", labelNames: ["outcome"], registers: [registry] }),
    queueDepth: new Gauge({ name: "xtrinode_operator_workqueue_depth", help: "Runtime keys waiting in the work queue.", registers: [registry] }),
    objectsApplied: new Counter({ name: "xtrinode_operator_objects_applied_total", help: "Kubernetes objects written (server-side apply or prune delete), by kind.", labelNames: ["kind", "verb"], registers: [registry] }),
    leader: new Gauge({ name: "xtrinode_operator_leader", help: "1 while this instance holds the leader lease.", registers: [registry] }),
  };
}
