// Loads the Kubernetes client configuration: an explicit kubeconfig file, else in-cluster
// service-account credentials, else the default kubeconfig ($KUBECONFIG or ~/.kube/config).
import { KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";

const serviceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (kubeconfigPath) kubeConfig.loadFromFile(kubeconfigPath);
  else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(serviceAccountTokenPath)) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}
