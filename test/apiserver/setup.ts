// Shared integration-test setup: the Kubernetes API test server with the XTrinode CRD, a team
// namespace, runtimes created through @kubernetes/client-node, and a static token file.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { minimalCrd, startKubeApiServer, type KubeApiTestServer } from "../../fixtures/kube-api-server/index.ts";
import type { XTrinode } from "../../schemas/generated/types.ts";

export const namespace = "team-a";
export const gatewayUser = "system:serviceaccount:xtrinode-gateway:xtrinode-gateway";
export const tokens = { gateway: "gateway-token", admin: "admin-token", stranger: "stranger-token" };
const xtrinode = { group: "xtrinode.io", version: "v1alpha1", namespace, plural: "xtrinodes" };

export interface TestCluster {
  kube: KubeApiTestServer;
  kubeConfig: KubeConfig;
  dir: string;
  tokenFile: string;
  createRuntime(name: string, options?: { suspended?: boolean; routeState?: string }): Promise<void>;
  getRuntime(name: string): Promise<XTrinode>;
  /** Successful (2xx) write requests under a path prefix, from the test server's request log. */
  successfulWrites(pathPrefix: string, method?: string): number;
  close(): Promise<void>;
}

/** Where the API server keeps resume Leases (its own namespace), and a runtime's Lease name there. */
export const leaseNamespace = "xtrinode-system";
export const leasesPath = `/apis/coordination.k8s.io/v1/namespaces/${leaseNamespace}/leases`;
export const leaseName = (runtime: string) => `xtrinode-resume.${namespace}.${runtime}`;
export const runtimePath = (name: string) => `/apis/xtrinode.io/v1alpha1/namespaces/${namespace}/xtrinodes/${name}`;

/** The generated XTrinode CRD files in deploy/crds/ (the renderer's `npm run gen`), if present. */
function xtrinodeCrds(): string[] {
  const dir = fileURLToPath(new URL("../../deploy/crds/", import.meta.url));
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => /\.ya?ml$/.test(file))
    .map((file) => join(dir, file))
    .filter((path) => /name:\s*xtrinodes\.xtrinode\.io\b/.test(readFileSync(path, "utf8")));
}

export async function startTestCluster(): Promise<TestCluster> {
  const kube = await startKubeApiServer();
  const crdFiles = xtrinodeCrds();
  if (crdFiles.length > 0) kube.registerCrdFiles(crdFiles);
  else kube.registerCrds([minimalCrd({ group: "xtrinode.io", kind: "XTrinode", versions: ["v1alpha1"], shortNames: ["xtn"] })]);
  kube.addToken(tokens.gateway, { username: gatewayUser, groups: ["system:serviceaccounts", "system:authenticated"] });
  kube.addToken(tokens.admin, { username: "alice", groups: ["xtrinode-admins", "system:authenticated"] });
  kube.addToken(tokens.stranger, { username: "mallory", groups: ["system:authenticated"] });
  const kubeConfig = kube.kubeConfig();
  for (const name of [namespace, leaseNamespace])
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });

  const dir = mkdtempSync(join(tmpdir(), "xtrinode-apiserver-test-"));
  const tokenFile = join(dir, "tokens.csv");
  writeFileSync(
    tokenFile,
    [
      `${tokens.gateway},${gatewayUser},gw-uid`,
      `${tokens.admin},alice,alice-uid,"xtrinode-admins,system:authenticated"`,
      `${tokens.stranger},mallory,mallory-uid`,
    ].join("\n") + "\n",
    { mode: 0o600 },
  );

  const objects = kubeConfig.makeApiClient(CustomObjectsApi);
  return {
    kube,
    kubeConfig,
    dir,
    tokenFile,
    async createRuntime(name, options = {}) {
      const body: XTrinode = {
        apiVersion: "xtrinode.io/v1alpha1",
        kind: "XTrinode",
        metadata: { name, namespace },
        spec: { lifecycle: { suspended: options.suspended ?? true } },
      };
      await objects.createNamespacedCustomObject({ ...xtrinode, body });
      if (options.routeState) {
        await objects.patchNamespacedCustomObjectStatus(
          {
            ...xtrinode,
            name,
            body: { status: { routeState: options.routeState, phase: options.routeState === "RUNNING" ? "Ready" : "Suspended" } },
          },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
      }
    },
    async getRuntime(name) {
      return (await objects.getNamespacedCustomObject({ ...xtrinode, name })) as XTrinode;
    },
    successfulWrites(pathPrefix, method) {
      return kube.requestLog.writes({ pathPrefix, method }).filter((e) => e.status >= 200 && e.status < 300).length;
    },
    async close() {
      await kube.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
