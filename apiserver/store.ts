// The Kubernetes operations the lifecycle core needs, behind one small interface so the core is
// testable without a network. The production implementation is kube-store.ts (@kubernetes/client-node).
// Implementations throw ApiError 503 (kubeUnavailable) when the Kubernetes API fails or times out.
import type { Condition, XTrinode } from "../schemas/generated/types.ts";
import type { Logger } from "../lib/logger.ts";
import type { LeaseRecord } from "../lib/lease.ts";

/** A JSON merge patch (RFC 7386) for an XTrinode. */
export type MergePatch = Record<string, unknown>;

export type WriteResult<T> = { ok: true; value: T } | { ok: false; reason: "conflict" | "notFound" };

/** A Kubernetes Event about a runtime, as the console shows it. */
export interface RuntimeEvent {
  type: string;
  reason: string;
  message: string;
  /** Last time it happened (lastTimestamp, eventTime or creation time). */
  at: string | null;
  count: number;
  source: string;
}

/** An XTrinodeCatalog as the console shows it: its name and conditions. */
export interface CatalogRecord {
  name: string;
  conditions: Condition[];
}

export interface RuntimeStore {
  getRuntime(namespace: string, name: string): Promise<XTrinode | undefined>;
  listRuntimes(namespace?: string): Promise<XTrinode[]>;
  /** Applies a merge patch; a patch carrying metadata.resourceVersion fails with "conflict" when the object changed. */
  patchRuntime(namespace: string, name: string, patch: MergePatch): Promise<WriteResult<XTrinode>>;
  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined>;
  /** Creates the Lease; "conflict" when it already exists (409 AlreadyExists). */
  createLease(namespace: string, name: string, record: LeaseRecord): Promise<WriteResult<LeaseRecord>>;
  /** Replaces the Lease at record.resourceVersion; "conflict" when someone else changed it first (409 Conflict). */
  updateLease(namespace: string, name: string, record: LeaseRecord): Promise<WriteResult<LeaseRecord>>;
  /** Deletes the Lease if it is still at resourceVersion. */
  deleteLease(namespace: string, name: string, resourceVersion: string): Promise<WriteResult<void>>;
  /** Records a Kubernetes Event about the runtime (the console's resume/suspend history). */
  createRuntimeEvent(runtime: XTrinode, event: { type: "Normal" | "Warning"; reason: string; message: string }): Promise<void>;
  /** The most recent Events about XTrinode namespace/name (newest first, at most `limit`). */
  listRuntimeEvents(namespace: string, name: string, limit: number): Promise<RuntimeEvent[]>;
  /** The XTrinodeCatalogs of a namespace. */
  listCatalogs(namespace: string): Promise<CatalogRecord[]>;
  /** Resolves when the Kubernetes API answers. */
  ping(): Promise<void>;
}

/**
 * Records an Event for the runtime's history (kubectl describe, the console) without waiting for it: the
 * intent is already recorded, and a slow or failing Event write must not delay or fail the answer.
 */
export function recordEventInBackground(store: RuntimeStore, logger: Logger, runtime: XTrinode, reason: string, message: string): void {
  store.createRuntimeEvent(runtime, { type: "Normal", reason, message }).catch((error: unknown) => {
    logger.warn(
      { event: "event-record-failed", namespace: runtime.metadata.namespace, name: runtime.metadata.name, reason, err: String(error) },
      "could not record the Event",
    );
  });
}
