// Wires one lifecycle API server instance from its options: Kubernetes client, authentication,
// authorisation, metrics and the HTTP listener. Used by the CLI, the tests and the benchmark.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig } from "../lib/kube-config.ts";
import { createLogger, type Logger } from "../lib/logger.ts";
import {
  ConfigError,
  defaultAuthzConfig,
  parseAuthzConfig,
  parseTokenFile,
  staticTokenAuthenticator,
  tokenReviewAuthenticator,
  type AuthzConfig,
} from "./auth.ts";
import { KubeRuntimeStore, kubeTokenReviewer } from "./kube-store.ts";
import { LifecycleActions } from "./lifecycle-actions.ts";
import { createMetrics, type ApiServerMetrics } from "./metrics.ts";
import { defaultLeaseNamespace } from "./names.ts";
import { loadConsoleAssets } from "./console.ts";
import { gatewayStatusReader } from "./gateway-status.ts";
import { createApiServerHandler, listen } from "./server.ts";

export interface ApiServerOptions {
  port?: number;
  host?: string;
  kubeconfigPath?: string;
  /** Takes precedence over kubeconfigPath (in-process tests). */
  kubeConfig?: KubeConfig;
  /** Static token file (kube-apiserver --token-auth-file format); without it tokens are checked by TokenReview. */
  tokenFile?: string;
  authzConfigFile?: string;
  authz?: AuthzConfig;
  leaseDurationSeconds?: number;
  /** Namespace of the resume Leases (default xtrinode-system). */
  leaseNamespace?: string;
  retryAfterSeconds?: number;
  activityMinIntervalSeconds?: number;
  kubeTimeoutMs?: number;
  identity?: string;
  logger?: Logger;
  defaultMetrics?: boolean;
  /** Serve the web console under /console/ (default true). */
  console?: boolean;
  /** Base URL of the gateway whose status the console shows (server-side read); none: no gateway view. */
  gatewayUrl?: string;
  /** File holding the gateway's admin token (its admin.tokenFile), sent when reading its status. */
  gatewayTokenFile?: string;
}

export interface StartedApiServer {
  url: string;
  identity: string;
  metrics: ApiServerMetrics;
  close(): Promise<void>;
}

export const defaults = {
  port: 8081,
  host: "0.0.0.0",
  leaseDurationSeconds: 30,
  retryAfterSeconds: 5,
  activityMinIntervalSeconds: 10,
  kubeTimeoutMs: 5000,
};

/** A holder identity unique per process, like client-go's hostname + random suffix. */
export function defaultIdentity(): string {
  return `${hostname()}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

function loadKubeConfigOrExplain(path?: string): KubeConfig {
  try {
    return loadKubeConfig(path);
  } catch (error) {
    throw new ConfigError(
      `${path ? `--kubeconfig ${path}` : "kubeconfig (in-cluster, $KUBECONFIG or ~/.kube/config)"}: ${(error as Error).message}`,
    );
  }
}

function readConfigFile(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`${flag} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

export async function startApiServer(options: ApiServerOptions = {}): Promise<StartedApiServer> {
  const logger = options.logger ?? createLogger("apiserver");
  const kubeConfig = options.kubeConfig ?? loadKubeConfigOrExplain(options.kubeconfigPath);
  const timeoutMs = options.kubeTimeoutMs ?? defaults.kubeTimeoutMs;
  const store = new KubeRuntimeStore(kubeConfig, { timeoutMs });
  const authenticate = options.tokenFile
    ? staticTokenAuthenticator(parseTokenFile(readConfigFile(options.tokenFile, "--token-file"), options.tokenFile))
    : tokenReviewAuthenticator(kubeTokenReviewer(kubeConfig, { timeoutMs }));
  const authz =
    options.authz ??
    (options.authzConfigFile
      ? parseAuthzConfig(readConfigFile(options.authzConfigFile, "--authz-config"), options.authzConfigFile)
      : defaultAuthzConfig);
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics });
  const identity = options.identity ?? defaultIdentity();
  const lifecycle = new LifecycleActions({
    store,
    metrics,
    logger,
    identity,
    leaseDurationSeconds: options.leaseDurationSeconds ?? defaults.leaseDurationSeconds,
    leaseNamespace: options.leaseNamespace ?? defaultLeaseNamespace,
    retryAfterSeconds: options.retryAfterSeconds ?? defaults.retryAfterSeconds,
    activityMinIntervalSeconds: options.activityMinIntervalSeconds ?? defaults.activityMinIntervalSeconds,
    // A winner writes its intent right after the Lease: two request timeouts and a second cover that.
    abandonedLeaseGraceMs: 2 * timeoutMs + 1000,
  });
  const handler = createApiServerHandler({
    lifecycle,
    store,
    authenticate,
    authz,
    metrics,
    logger,
    console: options.console === false ? undefined : loadConsoleAssets(),
    gatewayStatus: options.gatewayUrl
      ? gatewayStatusReader(options.gatewayUrl, {
          timeoutMs,
          token: options.gatewayTokenFile ? readConfigFile(options.gatewayTokenFile, "--gateway-token-file").trim() : undefined,
        })
      : undefined,
  });
  const running = await listen(handler, options.port ?? defaults.port, options.host ?? defaults.host);
  logger.info(
    {
      event: "listening",
      url: running.url,
      identity,
      auth: options.tokenFile ? "token-file" : "token-review",
      console: options.console !== false,
      gatewayUrl: options.gatewayUrl,
    },
    "lifecycle API server listening",
  );
  return { url: running.url, identity, metrics, close: running.close };
}
