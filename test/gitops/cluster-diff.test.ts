// `xtrinode diff --kubeconfig` delegates to clusterDiff (reconciler/apply-preview.ts) and maps its result to exit codes.
import { expect } from "chai";
import { readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { loadCrdFiles, startKubeApiServer, thirdPartyCrds, type KubeApiTestServer } from "../../fixtures/kube-api-server/index.ts";
import { diffCommand } from "../../reconciler/gitops/cli.ts";
import { createClusterClient } from "../../reconciler/kube-client.ts";
import { repoRoot, tempDirs } from "./support.ts";
import { defaultGatewayNamespace } from "../../schemas/api/index.ts";

describe("xtrinode diff --kubeconfig", function () {
  const temp = tempDirs();
  let server: KubeApiTestServer;
  let policyFile: string;

  before(async () => {
    const crdDir = path.join(repoRoot, "deploy", "crds");
    server = await startKubeApiServer({
      crds: [...loadCrdFiles(readdirSync(crdDir).map((f) => path.join(crdDir, f))), ...thirdPartyCrds()],
    });
    const client = createClusterClient(server.kubeConfig());
    for (const name of ["team-a", defaultGatewayNamespace, "xtrinode-system"])
      await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    policyFile = path.join(await temp.make("kube"), "policy.yaml");
    await writeFile(policyFile, "apiVersion: xtrinode.io/v1alpha1\nkind: XTrinodePolicy\ndefaults: { maxWorkers: 4 }\n");
  });
  after(async () => {
    await server?.close();
    await temp.cleanup();
  });

  const diff = () =>
    diffCommand({
      kubeconfig: server.kubeconfigPath,
      policy: policyFile,
      specs: ".",
      format: "text",
      gatewayNamespace: defaultGatewayNamespace,
    });

  it("exit 0 with no XTrinodes; exit 1 with the objects a new XTrinode would create", async () => {
    const empty = await diff();
    expect(empty, empty.stderr).to.deep.include({ code: 0, stdout: "" });
    await createClusterClient(server.kubeConfig()).create({
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "bi", namespace: "team-a" },
      spec: { workers: { mode: "fixed", count: 1 } },
    });
    const changed = await diff();
    expect(changed.code, changed.stderr).to.equal(1);
    expect(changed.stdout).to.include("+++ desired/").and.include("bi-trino-coordinator");
  });
});
