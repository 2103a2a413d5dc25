// RuntimeStore and TokenReviewer over the real Kubernetes API (@kubernetes/client-node).
// Every call carries a timeout (AbortSignal); failures other than the expected 404/409 become 503s
// that say which operation failed and why.
import {
  ApiException,
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  V1MicroTime,
  type ConfigurationOptions,
  type KubeConfig,
  type CoreV1Event,
  type V1Lease,
} from "@kubernetes/client-node";
import { callOptions } from "../lib/kube-config.ts";
import { apiVersion, group, kinds, plurals, version } from "../schemas/api/index.ts";
import type { XTrinode } from "../schemas/generated/types.ts";
import type { Identity, TokenReviewer } from "./auth.ts";
import { kubeUnavailable } from "./errors.ts";
import type { LeaseRecord } from "../lib/lease.ts";
import type { CatalogRecord, MergePatch, RuntimeEvent, RuntimeStore, WriteResult } from "./store.ts";

const plural = plurals.runtime;
/** Source of the Events this server records (resume and suspend requests). */
const eventSource = "xtrinode-apiserver";
/** At most this many Events of one runtime are read (Kubernetes folds repeats into one Event with a count). */
const maxEventsRead = 500;

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** A 503 naming the Kubernetes operation and the cause (HTTP status and reason, or timeout / connection error). */
function unavailable(operation: string, error: unknown, timeoutMs: number): Error {
  let cause: string;
  if (error instanceof ApiException) {
    const body = typeof error.body === "string" ? safeParse(error.body) : error.body;
    const reason = body && typeof body === "object" && "message" in body ? String((body as { message: unknown }).message) : "";
    cause = `HTTP ${error.code}${reason ? `: ${reason}` : ""}`;
    if (error.code === 401 || error.code === 403) cause += " (check the API server's Kubernetes credentials and RBAC)";
  } else if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    cause = `no answer within ${timeoutMs} ms`;
  } else {
    cause = error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ""}` : String(error);
  }
  return kubeUnavailable(`Kubernetes API unavailable: ${operation} failed: ${cause}; nothing was changed by this request, retry later`);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  const time = (value: unknown) =>
    value instanceof Date ? new V1MicroTime(value.getTime()).toISOString() : typeof value === "string" ? value : undefined;
  return {
    holderIdentity: spec.holderIdentity,
    leaseDurationSeconds: spec.leaseDurationSeconds,
    acquireTime: time(spec.acquireTime),
    renewTime: time(spec.renewTime),
    leaseTransitions: spec.leaseTransitions,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

function toLease(namespace: string, name: string, record: LeaseRecord): V1Lease {
  const micro = (value?: string) => (value ? new V1MicroTime(Date.parse(value)) : undefined);
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name,
      namespace,
      labels: { "app.kubernetes.io/managed-by": "xtrinode", "xtrinode.io/lease": "resume" },
      ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
    },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: micro(record.acquireTime),
      renewTime: micro(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

export class KubeRuntimeStore implements RuntimeStore {
  private readonly customObjects: CustomObjectsApi;
  private readonly coordination: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly timeoutMs: number;

  constructor(kubeConfig: KubeConfig, options: { timeoutMs: number }) {
    this.customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    this.coordination = kubeConfig.makeApiClient(CoordinationV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.timeoutMs = options.timeoutMs;
  }

  /** Runs a call; 404 → notFound, 409 → conflict, anything else failing → 503. */
  private async call<T>(
    operation: string,
    run: (options: ConfigurationOptions) => Promise<T>,
    contentType?: string,
  ): Promise<WriteResult<T>> {
    try {
      return { ok: true, value: await run(callOptions(this.timeoutMs, contentType)) };
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return { ok: false, reason: "notFound" };
      if (status === 409) return { ok: false, reason: "conflict" };
      throw unavailable(operation, error, this.timeoutMs);
    }
  }

  async getRuntime(namespace: string, name: string): Promise<XTrinode | undefined> {
    const result = await this.call(`get XTrinode ${namespace}/${name}`, (o) =>
      this.customObjects.getNamespacedCustomObject({ group, version, namespace, plural, name }, o),
    );
    return result.ok ? (result.value as XTrinode) : undefined;
  }

  async listRuntimes(namespace?: string): Promise<XTrinode[]> {
    const items: XTrinode[] = [];
    let cont: string | undefined;
    do {
      const operation = `list XTrinodes${namespace ? ` in ${namespace}` : ""}`;
      const result = await this.call(operation, (o) =>
        namespace
          ? this.customObjects.listNamespacedCustomObject({ group, version, namespace, plural, limit: 500, _continue: cont }, o)
          : this.customObjects.listClusterCustomObject({ group, version, plural, limit: 500, _continue: cont }, o),
      );
      if (!result.ok)
        throw unavailable(operation, new Error("the XTrinode resource is not served (is the CRD installed?)"), this.timeoutMs);
      const page = result.value as { items?: XTrinode[]; metadata?: { continue?: string } };
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return items;
  }

  async patchRuntime(namespace: string, name: string, patch: MergePatch): Promise<WriteResult<XTrinode>> {
    const result = await this.call(
      `patch XTrinode ${namespace}/${name}`,
      (o) =>
        this.customObjects.patchNamespacedCustomObject(
          { group, version, namespace, plural, name, body: patch, fieldManager: "xtrinode-apiserver" },
          o,
        ),
      "application/merge-patch+json",
    );
    return result.ok ? { ok: true, value: result.value as XTrinode } : result;
  }

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    const result = await this.call(`get Lease ${namespace}/${name}`, (o) => this.coordination.readNamespacedLease({ namespace, name }, o));
    return result.ok ? toRecord(result.value) : undefined;
  }

  async createLease(namespace: string, name: string, record: LeaseRecord): Promise<WriteResult<LeaseRecord>> {
    const result = await this.call(`create Lease ${namespace}/${name}`, (o) =>
      this.coordination.createNamespacedLease({ namespace, body: toLease(namespace, name, record), fieldManager: "xtrinode-apiserver" }, o),
    );
    // 404 on create means the namespace is gone; treat like losing (nothing was written).
    return result.ok ? { ok: true, value: toRecord(result.value) } : { ok: false, reason: "conflict" };
  }

  async updateLease(namespace: string, name: string, record: LeaseRecord): Promise<WriteResult<LeaseRecord>> {
    const result = await this.call(`update Lease ${namespace}/${name}`, (o) =>
      this.coordination.replaceNamespacedLease(
        { namespace, name, body: toLease(namespace, name, record), fieldManager: "xtrinode-apiserver" },
        o,
      ),
    );
    // 404: deleted since we read it; someone else's move, so we lost this round.
    return result.ok ? { ok: true, value: toRecord(result.value) } : { ok: false, reason: "conflict" };
  }

  async deleteLease(namespace: string, name: string, resourceVersion: string): Promise<WriteResult<void>> {
    const result = await this.call(`delete Lease ${namespace}/${name}`, (o) =>
      this.coordination.deleteNamespacedLease({ namespace, name, body: { preconditions: { resourceVersion } } }, o),
    );
    return result.ok ? { ok: true, value: undefined } : result;
  }

  async createRuntimeEvent(runtime: XTrinode, event: { type: "Normal" | "Warning"; reason: string; message: string }): Promise<void> {
    const { name, namespace = "", uid } = runtime.metadata as XTrinode["metadata"] & { uid?: string };
    const now = new Date();
    await this.call(`create Event about XTrinode ${namespace}/${name}`, (o) =>
      this.core.createNamespacedEvent(
        {
          namespace,
          body: {
            metadata: { generateName: `${name}.`, namespace },
            involvedObject: { apiVersion, kind: kinds.runtime, name, namespace, uid },
            type: event.type,
            reason: event.reason,
            message: event.message,
            source: { component: eventSource },
            reportingComponent: eventSource,
            reportingInstance: eventSource,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        },
        o,
      ),
    );
  }

  async listRuntimeEvents(namespace: string, name: string, limit: number): Promise<RuntimeEvent[]> {
    const operation = `list Events of XTrinode ${namespace}/${name}`;
    const result = await this.call(operation, (o) =>
      this.core.listNamespacedEvent(
        { namespace, fieldSelector: `involvedObject.kind=XTrinode,involvedObject.name=${name}`, limit: maxEventsRead },
        o,
      ),
    );
    if (!result.ok) return [];
    return result.value.items
      .map(toRuntimeEvent)
      .sort((a, b) => (b.at ?? "").localeCompare(a.at ?? ""))
      .slice(0, limit);
  }

  async listCatalogs(namespace: string): Promise<CatalogRecord[]> {
    const operation = `list XTrinodeCatalogs in ${namespace}`;
    const result = await this.call(operation, (o) =>
      this.customObjects.listNamespacedCustomObject({ group, version, namespace, plural: plurals.catalog, limit: 500 }, o),
    );
    if (!result.ok) return [];
    const page = result.value as { items?: Array<{ metadata?: { name?: string }; status?: { conditions?: CatalogRecord["conditions"] } }> };
    return (page.items ?? []).map((item) => ({ name: item.metadata?.name ?? "", conditions: item.status?.conditions ?? [] }));
  }

  async ping(): Promise<void> {
    await this.call("discovery of coordination.k8s.io/v1", (o) => this.coordination.getAPIResources(o));
  }
}

function isoTime(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  return typeof value === "string" && value !== "" ? value : null;
}

function toRuntimeEvent(event: CoreV1Event): RuntimeEvent {
  return {
    type: event.type ?? "",
    reason: event.reason ?? "",
    message: event.message ?? "",
    at:
      isoTime(event.lastTimestamp) ??
      isoTime(event.eventTime) ??
      isoTime(event.firstTimestamp) ??
      isoTime(event.metadata?.creationTimestamp),
    count: event.count ?? 1,
    source: event.reportingComponent || event.source?.component || "",
  };
}

/** TokenReviewer over authentication.k8s.io/v1 TokenReview. */
export function kubeTokenReviewer(kubeConfig: KubeConfig, options: { timeoutMs: number }): TokenReviewer {
  const api = kubeConfig.makeApiClient(AuthenticationV1Api);
  return async (token): Promise<Identity | undefined> => {
    let review;
    try {
      review = await api.createTokenReview(
        { body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } } },
        callOptions(options.timeoutMs),
      );
    } catch (error) {
      throw unavailable("TokenReview", error, options.timeoutMs);
    }
    const status = review.status;
    if (!status?.authenticated || !status.user?.username) return undefined;
    return { username: status.user.username, groups: status.user.groups ?? [] };
  };
}
