// Loads the Kubernetes client configuration: an explicit kubeconfig file, else in-cluster
// service-account credentials, else the default kubeconfig ($KUBECONFIG or ~/.kube/config).
import { KubeConfig, Observable, type ConfigurationOptions, type ObservableMiddleware } from "@kubernetes/client-node";
import { existsSync } from "node:fs";

const serviceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (kubeconfigPath) kubeConfig.loadFromFile(kubeconfigPath);
  else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(serviceAccountTokenPath)) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}

function middleware(pre: (request: Parameters<ObservableMiddleware["pre"]>[0]) => void): ObservableMiddleware {
  return {
    pre: (request) => {
      pre(request);
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
}

/** Per-call options for client-node API calls: a fresh timeout signal, plus an optional Content-Type override (merge patch). */
export function callOptions(timeoutMs: number, contentType?: string): ConfigurationOptions {
  return {
    middleware: [
      middleware((request) => {
        request.setSignal(AbortSignal.timeout(timeoutMs));
        if (contentType) request.setHeaderParam("Content-Type", contentType);
      }),
    ],
    middlewareMergeStrategy: "append",
  };
}
