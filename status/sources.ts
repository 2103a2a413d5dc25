// `xtrinode status`, I/O part: the XTrinodes from the Kubernetes API (client-node) and the gateway's
// status document (GET /xtrinode/v1/status). Failures become one message naming the cause and the fix.
import { ApiException, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { GatewayStatus } from "../schemas/generated/types.ts";
import { group, plurals, version } from "../schemas/api/index.ts";
import { gatewayStatusPath } from "../gateway/status.ts";
import { gatewayStatusUrl, readGatewayStatus } from "../lib/gateway-status-client.ts";
import { callOptions } from "../lib/kube-config.ts";
import type { LiveXTrinode } from "./table.ts";

/** A failure `xtrinode status` reports as one line (no stack), exit 1. */
export class StatusError extends Error {}

const requestTimeoutMs = 10_000;
/** The status document is small; more than this is not a gateway. */
const maxGatewayAnswerBytes = 8 * 1024 * 1024;

/** Where the XTrinodes are read: the current context's cluster and user, for messages. */
export function describeContext(kubeConfig: KubeConfig): { server: string; user: string } {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw new StatusError(
      "no Kubernetes cluster configured: pass --kubeconfig FILE, set KUBECONFIG, or select a context (kubectl config use-context NAME)",
    );
  }
  return { server: cluster.server, user: kubeConfig.getCurrentUser()?.name ?? "(no user)" };
}

/** The namespace of the kubeconfig's current context, else "default" (as kubectl). */
export function contextNamespace(kubeConfig: KubeConfig): string {
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return context?.namespace || "default";
}

function apiMessage(error: ApiException<unknown>): string {
  const body = typeof error.body === "string" ? safeJson(error.body) : error.body;
  return body && typeof body === "object" && "message" in body ? String((body as { message: unknown }).message) : "";
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Lists XTrinodes (one namespace, or all with namespace undefined), optionally one by name. */
export async function listRuntimes(kubeConfig: KubeConfig, namespace: string | undefined, name?: string): Promise<LiveXTrinode[]> {
  const { server, user } = describeContext(kubeConfig);
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const where = namespace ? `in namespace ${namespace}` : "in any namespace";
  const items: LiveXTrinode[] = [];
  let cont: string | undefined;
  try {
    do {
      const fieldSelector = name ? `metadata.name=${name}` : undefined;
      const page = (
        namespace
          ? await api.listNamespacedCustomObject(
              { group, version, namespace, plural: plurals.runtime, fieldSelector, limit: 500, _continue: cont },
              callOptions(requestTimeoutMs),
            )
          : await api.listClusterCustomObject(
              { group, version, plural: plurals.runtime, fieldSelector, limit: 500, _continue: cont },
              callOptions(requestTimeoutMs),
            )
      ) as { items?: LiveXTrinode[]; metadata?: { continue?: string } };
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont);
  } catch (error) {
    if (error instanceof ApiException) {
      const detail = apiMessage(error);
      if (error.code === 404) {
        throw new StatusError(
          `the XTrinode resource (${plurals.runtime}.${group}) is not served by ${server}: its CRD is not installed. Install it: kubectl apply --server-side -k deploy/crds (or: xtrinode crds | kubectl apply --server-side -f -)`,
        );
      }
      if (error.code === 401) {
        throw new StatusError(
          `${server} refused the credentials of user ${user} (401${detail ? `: ${detail}` : ""}): log in again or fix the user in your kubeconfig`,
        );
      }
      if (error.code === 403) {
        throw new StatusError(
          `permission denied: user ${user} may not list ${plurals.runtime}.${group} ${where} (403${detail ? `: ${detail}` : ""}). ` +
            `Ask a cluster admin for get/list/watch on them, e.g. kubectl create clusterrole xtrinode-viewer --verb=get,list,watch --resource=${plurals.runtime}.${group} ` +
            `and kubectl create ${namespace ? `rolebinding xtrinode-viewer -n ${namespace}` : "clusterrolebinding xtrinode-viewer"} --clusterrole=xtrinode-viewer --user=<you>`,
        );
      }
      throw new StatusError(
        `listing ${plurals.runtime}.${group} ${where} at ${server} failed: HTTP ${error.code}${detail ? `: ${detail}` : ""}`,
      );
    }
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    const cause = timedOut
      ? `no answer within ${requestTimeoutMs / 1000} s`
      : ((error as Error & { cause?: Error }).cause?.message ?? (error as Error).message);
    throw new StatusError(
      `cannot reach the Kubernetes API server at ${server}: ${cause}. Is the cluster up, and is --kubeconfig / KUBECONFIG / the current context the right one?`,
    );
  }
  if (name && items.length === 0) throw new StatusError(`XTrinode ${name} not found ${where}`);
  return items;
}

export type GatewayAnswer = { ok: true; status: GatewayStatus } | { ok: false; note: string };

/** The gateway's status document, or a one-line note saying why the HELD and IN-FLIGHT columns are blank. */
export async function fetchGatewayStatus(gatewayUrl: string | undefined, token: string | undefined): Promise<GatewayAnswer> {
  if (!gatewayUrl)
    return { ok: false, note: "HELD and IN-FLIGHT are blank: no --gateway-url given (the gateway's /xtrinode/v1/status has them)" };
  let url: URL;
  try {
    url = gatewayStatusUrl(gatewayUrl);
  } catch {
    return {
      ok: false,
      note: `HELD and IN-FLIGHT are blank: --gateway-url "${gatewayUrl}" is not a URL (e.g. http://xtrinode-gateway.xtrinode-gateway:8080)`,
    };
  }
  const blank = (why: string): GatewayAnswer => ({ ok: false, note: `HELD and IN-FLIGHT are blank: ${why}` });
  const read = await readGatewayStatus(url, { token, timeoutMs: requestTimeoutMs, maxBytes: maxGatewayAnswerBytes });
  if (read.ok) return read;
  switch (read.problem) {
    case "unreachable":
      return blank(`the gateway at ${url.origin} is unreachable (${read.cause})`);
    case "refused":
      return blank(
        `the gateway at ${url.origin} refused the status request (${read.httpStatus}): pass --gateway-token-file with its admin.tokenFile token`,
      );
    case "http":
      return blank(`the gateway at ${url.origin} answered HTTP ${read.httpStatus} to ${gatewayStatusPath}`);
    case "too-large":
    case "not-a-status":
      return blank(`the answer of ${url.origin}${gatewayStatusPath} is not a gateway status document (schemas/gateway-status.schema.json)`);
  }
}
