// The operator's only door to the Kubernetes API: a small interface over @kubernetes/client-node
// (server-side apply under one field manager, status subresource, events), so the reconcile logic
// stays independent of transport details.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
  type ResponseContext,
} from "@kubernetes/client-node";
import { group, plurals, version } from "../schemas/api/index.ts";
import { fieldManager } from "./constants.ts";
import type { KubeObject } from "./apply-decision.ts";

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface EventInput {
  regarding: KubeObject;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface ClusterClient {
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  /** Lists a kind; an API group that is not installed lists as empty. */
  list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<KubeObject[]>;
  /**
   * Server-side apply as the operator's field manager (force: we own these objects). `dryRun`: the
   * API server runs every check (validation, admission) and stores nothing.
   */
  apply(object: KubeObject, options?: { dryRun?: boolean }): Promise<KubeObject>;
  create(object: KubeObject): Promise<KubeObject>;
  /** Full update guarded by metadata.resourceVersion (409 on a stale version). */
  replace(object: KubeObject): Promise<KubeObject>;
  /** JSON merge patch of the main resource (include metadata.resourceVersion for a precondition). */
  mergePatch(ref: ObjectRef, patch: Record<string, unknown>): Promise<KubeObject>;
  delete(ref: ObjectRef): Promise<void>;
  /** PUT of an XTrinode's or XTrinodeCatalog's status subresource (plural names which), guarded by resourceVersion. */
  replaceStatus(object: KubeObject, plural: typeof plurals.runtime | typeof plurals.catalog): Promise<KubeObject>;
  createEvent(event: EventInput): Promise<void>;
}

export function httpStatus(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown })?.code ?? (error as { statusCode?: unknown })?.statusCode;
  return typeof code === "number" ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return httpStatus(error) === 404;
}

export function isConflict(error: unknown): boolean {
  return httpStatus(error) === 409;
}

/**
 * The API server refused the request itself (400 Bad Request, 403 Forbidden, 422 Invalid, an
 * admission webhook's denial): the same body fails again, so retrying is pointless. Not 401
 * (credentials), 404 (a missing kind or namespace), 408/409/429 (timing, conflicts, throttling).
 */
export function isRejected(error: unknown): boolean {
  const status = httpStatus(error);
  return status !== undefined && status >= 400 && status < 500 && ![401, 404, 408, 409, 429].includes(status);
}

/** Discovery does not know the kind: its CRD (KEDA, Prometheus Operator, Cluster API) is not installed. */
export function isKindMissing(error: unknown): boolean {
  return isNotFound(error) || (error instanceof Error && error.message.startsWith("Unrecognized API version and kind"));
}

/** A message for logs and status that carries the API server's reason, never a request body. */
export function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as { message?: string } | string | undefined;
    const message = typeof body === "string" ? safeParseMessage(body) : body?.message;
    return `HTTP ${error.code}${message ? `: ${message}` : ""}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function safeParseMessage(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { message?: string }).message;
  } catch {
    return body.slice(0, 200);
  }
}

function header(ref: ObjectRef): KubernetesObject & { metadata: { name: string; namespace?: string } } {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
}

/** Plain JSON copy: client-node's typed APIs turn timestamps into Date objects; the reconciler compares JSON. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * KubernetesObjectApi that moves objects as plain JSON. The stock one maps built-in kinds through
 * client-node's typed models, whose property names differ from the JSON ones in places
 * (LimitRangeItem.default is `_default`, NetworkPolicyIngressRule.from `_from`, ListMeta.continue
 * `_continue`, ...) and which drop fields the models do not know: a rendered `default` would never
 * reach the API server, and a live one would read back as `_default`. Here request bodies are
 * JSON.stringify of what we rendered and responses are the JSON the server sent; discovery,
 * authentication, middleware and the HTTP transport are still client-node's.
 */
export class RawObjectApi extends KubernetesObjectApi {
  static fromKubeConfig(kubeConfig: KubeConfig): RawObjectApi {
    const api = kubeConfig.makeApiClient(RawObjectApi);
    api.setDefaultNamespace(kubeConfig);
    return api;
  }

  /** Sends `body` as is to the object's URL for `action` (create: its collection). */
  async send(
    method: HttpMethod,
    action: "create" | "patch" | "replace",
    body: KubernetesObject,
    query: Record<string, string>,
    contentType = "application/json",
  ): Promise<KubeObject> {
    const path = await this.specUriPath(body, action);
    const request = this.configuration.baseServer.makeRequestContext(path, method);
    request.setHeaderParam("Accept", "application/json, */*;q=0.8");
    request.setHeaderParam("Content-Type", contentType);
    for (const [key, value] of Object.entries(query)) request.setQueryParam(key, value);
    request.setBody(JSON.stringify(body));
    return this.requestPromise<KubeObject>(request);
  }

  /** Every response (reads, lists, discovery, writes) as the JSON the API server sent. */
  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext): Promise<T> {
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) return JSON.parse(await response.body.text()) as T;
    throw new ApiException(response.httpStatusCode, "Unsuccessful HTTP Request", await response.getBodyAsAny(), response.headers);
  }
}

/**
 * Every write asks the API server to refuse unknown fields (400) instead of silently dropping them
 * (a CRD prunes them; the default is only a warning): a typo in a spec or a rendered object is an
 * error naming the field, never a setting that quietly does not apply.
 */
const strictFields = { fieldValidation: "Strict" };

/** How long a kind found missing (CRD not installed) lists as empty without asking discovery again. */
const missingKindTtlMs = 30_000;

export function createClusterClient(kubeConfig: KubeConfig): ClusterClient {
  const objects = RawObjectApi.fromKubeConfig(kubeConfig);
  const missingKinds = new Map<string, number>();
  const customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    async get(ref) {
      try {
        return (await objects.read(header(ref))) as KubeObject;
      } catch (error) {
        if (isKindMissing(error)) return undefined;
        throw error;
      }
    },
    async list(apiVersion, kind, namespace, labelSelector) {
      const kindKey = `${apiVersion}/${kind}`;
      if ((missingKinds.get(kindKey) ?? 0) > Date.now()) return [];
      try {
        const list = await objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
        return (list.items as KubeObject[]).map((item) => ({ ...item, apiVersion, kind }));
      } catch (error) {
        if (isKindMissing(error)) {
          missingKinds.set(kindKey, Date.now() + missingKindTtlMs);
          return [];
        }
        throw error;
      }
    },
    async apply(object, options) {
      const query: Record<string, string> = { fieldManager, force: "true", ...strictFields };
      if (options?.dryRun) query.dryRun = "All";
      return objects.send(HttpMethod.PATCH, "patch", object, query, PatchStrategy.ServerSideApply);
    },
    async create(object) {
      return objects.send(HttpMethod.POST, "create", object, { fieldManager, ...strictFields });
    },
    async replace(object) {
      return objects.send(HttpMethod.PUT, "replace", object, { fieldManager, ...strictFields });
    },
    async mergePatch(ref, patch) {
      const body = {
        ...patch,
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { ...((patch.metadata as object) ?? {}), name: ref.name, namespace: ref.namespace },
      };
      return objects.send(HttpMethod.PATCH, "patch", body, { fieldManager, ...strictFields }, PatchStrategy.MergePatch);
    },
    async delete(ref) {
      try {
        await objects.delete(header(ref), undefined, undefined, undefined, undefined, "Background");
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
    async replaceStatus(object, plural) {
      const metadata = object.metadata!;
      const result = await customObjects.replaceNamespacedCustomObjectStatus({
        group,
        version,
        namespace: metadata.namespace!,
        plural,
        name: metadata.name!,
        body: plain(object),
        fieldManager,
      });
      return plain(result as KubeObject);
    },
    async createEvent({ regarding, type, reason, message }) {
      const metadata = regarding.metadata!;
      const now = new Date();
      await core.createNamespacedEvent({
        namespace: metadata.namespace!,
        body: {
          metadata: { generateName: `${metadata.name}.`, namespace: metadata.namespace },
          involvedObject: {
            apiVersion: regarding.apiVersion,
            kind: regarding.kind,
            name: metadata.name,
            namespace: metadata.namespace,
            uid: metadata.uid,
          },
          type,
          reason,
          message,
          source: { component: fieldManager },
          reportingComponent: fieldManager,
          reportingInstance: fieldManager,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    },
  };
}
