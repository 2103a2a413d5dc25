// Prometheus metrics of one lifecycle API server instance (its own Registry).
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { WriteResult } from "./store.ts";

export type ResumeOutcome = "accepted" | "held" | "resuming" | "coalesced" | "running" | "not_found" | "error";

export interface ApiServerMetrics {
  registry: Registry;
  resumeRequests: Counter<"outcome">;
  leaseAcquisitions: Counter<"result">;
  kubeWrites: Counter<"resource" | "verb" | "result">;
  requestDuration: Histogram<"method" | "route" | "status">;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): ApiServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "xtrinode_apiserver_" });
  return {
    registry,
    resumeRequests: new Counter({
      name: "xtrinode_apiserver_resume_requests_total",
      help: "Resume requests by outcome: accepted (this call won the lease and recorded intent), held (lease held elsewhere or earlier), resuming (route already RESUMING, nothing to write), coalesced (joined an in-flight resume), running, not_found, error.",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    leaseAcquisitions: new Counter({
      name: "xtrinode_apiserver_lease_acquisitions_total",
      help: "Resume Lease acquisition attempts by result (won, lost, released).",
      labelNames: ["result"],
      registers: [registry],
    }),
    kubeWrites: new Counter({
      name: "xtrinode_apiserver_kube_writes_total",
      help: "Writes sent to the Kubernetes API by resource, verb and result (ok, conflict, notFound, error).",
      labelNames: ["resource", "verb", "result"],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: "xtrinode_apiserver_request_duration_seconds",
      help: "Lifecycle API request latency.",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}

/** Runs one Kubernetes write and counts it in kube_writes_total by resource, verb and result. */
export async function countedWrite<T>(
  metrics: ApiServerMetrics,
  resource: "lease" | "xtrinode",
  verb: string,
  run: () => Promise<WriteResult<T>>,
): Promise<WriteResult<T>> {
  try {
    const result = await run();
    metrics.kubeWrites.inc({ resource, verb, result: result.ok ? "ok" : result.reason });
    return result;
  } catch (error) {
    metrics.kubeWrites.inc({ resource, verb, result: "error" });
    throw error;
  }
}
