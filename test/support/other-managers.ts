// Other field managers adding to an operator-owned Deployment, for the list-merge tests of both
// tiers (test/reconciler/list-merge.test.ts against the test server, test/real-k8s against a real
// kube-apiserver): the same apply configurations, so both servers are judged on the same requests.
import { HttpMethod, PatchStrategy, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { RawObjectApi } from "../../reconciler/kube-client.ts";

export const sidecarInjector = "sidecar-injector";
export const envEditor = "env-editor";
export const sidecarName = "proxy-sidecar";
export const addedEnvVar = "EXTRA_FLAG";

export interface OtherManagerApply {
  fieldManager: string;
  object: KubernetesObject & Record<string, unknown>;
}

/**
 * What other field managers apply to an operator-owned Deployment whose pod template runs `container`: the
 * injector adds a sidecar container, the editor an env var to the operator's container. A real API server merges
 * both into the containers and env lists by their merge key (name) and leaves the operator's items as they were.
 */
export function otherManagersAdditions(deployment: { namespace: string; name: string; container: string }): OtherManagerApply[] {
  const object = (containers: object[]) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: deployment.name, namespace: deployment.namespace },
    spec: { template: { spec: { containers } } },
  });
  return [
    { fieldManager: sidecarInjector, object: object([{ name: sidecarName, image: "registry.example.com/proxy:1.0" }]) },
    { fieldManager: envEditor, object: object([{ name: deployment.container, env: [{ name: addedEnvVar, value: "on" }] }]) },
  ];
}

/** Server-side apply of each, as its own field manager, without force (as those controllers would). */
export async function applyAsOtherManagers(kubeConfig: KubeConfig, applies: OtherManagerApply[]): Promise<void> {
  const api = RawObjectApi.fromKubeConfig(kubeConfig);
  for (const { fieldManager, object } of applies)
    await api.send(HttpMethod.PATCH, "patch", object, { fieldManager, fieldValidation: "Strict" }, PatchStrategy.ServerSideApply);
}

/** Container names and the env var names of `container`, from a live Deployment. */
export function podTemplateSummary(deployment: unknown, container: string): { containers: string[]; env: string[] } {
  const containers =
    (deployment as { spec?: { template?: { spec?: { containers?: Array<{ name: string; env?: Array<{ name: string }> }> } } } })?.spec
      ?.template?.spec?.containers ?? [];
  return {
    containers: containers.map((c) => c.name).sort(),
    env: (containers.find((c) => c.name === container)?.env ?? []).map((e) => e.name),
  };
}
