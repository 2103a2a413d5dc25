import { expect } from "chai";
import { ApiException, CoreV1Api } from "@kubernetes/client-node";
import { startKubeApiServer } from "../../fixtures/kube-api-server/index.ts";
import { apiError, useServer } from "./support.ts";

describe("kube-api-server: request log and fault injection", () => {
  const ctx = useServer();
  let core: CoreV1Api;
  before(() => {
    core = ctx.kc.makeApiClient(CoreV1Api);
  });
  afterEach(() => ctx.server.faults.clear());

  it("logs method, path, query, field manager, content type and status", async () => {
    ctx.server.requestLog.clear();
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "logged" } }, fieldManager: "me" });
    await core.readNamespacedConfigMap({ name: "logged", namespace: "default" });
    await apiError(() => core.readNamespacedConfigMap({ name: "missing", namespace: "default" }));
    const entries = ctx.server.requestLog.entries;
    expect(entries.map((e) => `${e.method} ${e.path} ${e.status}`)).to.deep.equal([
      "POST /api/v1/namespaces/default/configmaps 201",
      "GET /api/v1/namespaces/default/configmaps/logged 200",
      "GET /api/v1/namespaces/default/configmaps/missing 404",
    ]);
    expect(entries[0]).to.include({ fieldManager: "me", contentType: "application/json" });
    expect(entries[0].query).to.deep.equal({ fieldManager: "me" });
    expect(ctx.server.requestLog.countWrites()).to.equal(1);
    expect(ctx.server.requestLog.countWrites({ fieldManager: "someone-else" })).to.equal(0);
  });

  it("fails the next N matching requests with a Status, then serves normally", async () => {
    ctx.server.faults.failNext(2, 503, { method: "GET", pathPrefix: "/api/v1/namespaces/default/configmaps" });
    const first = await apiError(() => core.listNamespacedConfigMap({ namespace: "default" }));
    expect(first.code).to.equal(503);
    expect(first.body.kind).to.equal("Status");
    expect((await apiError(() => core.readNamespacedConfigMap({ name: "logged", namespace: "default" }))).code).to.equal(503);
    const served = await core.readNamespacedConfigMap({ name: "logged", namespace: "default" });
    expect(served.metadata?.name).to.equal("logged");
    expect(ctx.server.faults.pending()).to.equal(0);
  });

  it("leaves non-matching requests alone", async () => {
    ctx.server.faults.failNext(1, 500, { method: "DELETE" });
    await core.readNamespacedConfigMap({ name: "logged", namespace: "default" });
    expect(ctx.server.faults.pending()).to.equal(1);
  });

  it("delays a request without failing it", async () => {
    ctx.server.faults.delayNext(1, 100, { pathPrefix: "/api/v1/namespaces/default/secrets" });
    const order: string[] = [];
    const slow = core.listNamespacedSecret({ namespace: "default" }).then(() => order.push("delayed"));
    await core.listNamespacedConfigMap({ namespace: "default" }).then(() => order.push("normal"));
    await slow;
    expect(order).to.deep.equal(["normal", "delayed"]);
  });

  it("cuts the connection without a response", async () => {
    ctx.server.faults.add({ pathPrefix: "/api/v1/namespaces/default/configmaps/logged", closeSocket: true });
    let failure: unknown;
    await core.readNamespacedConfigMap({ name: "logged", namespace: "default" }).catch((e) => (failure = e));
    expect(failure).to.be.instanceOf(Error);
    expect(failure).to.not.be.instanceOf(ApiException);
  });

  it("hangs a request until the server closes", async () => {
    const server = await startKubeApiServer();
    try {
      server.faults.add({ method: "GET", hang: true });
      let settled = false;
      const pending = server
        .kubeConfig()
        .makeApiClient(CoreV1Api)
        .listNamespace()
        .then(
          () => "resolved",
          () => "rejected",
        )
        .finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).to.equal(false);
      await server.close();
      expect(await pending).to.equal("rejected");
    } finally {
      await server.close();
    }
  });
});
