import { expect } from "chai";
import { CoreV1Api, makeInformer, Watch, type V1ConfigMap } from "@kubernetes/client-node";
import { useServer } from "./support.ts";
import { eventually } from "../support/eventually.ts";

interface Seen {
  type: string;
  object: any;
}

describe("kube-api-server: watch", () => {
  const ctx = useServer({ bookmarkIntervalMs: 50, historyLimit: 1000 });
  let core: CoreV1Api;
  const aborts: AbortController[] = [];
  before(async () => {
    core = ctx.kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "w" } } });
  });
  after(() => aborts.forEach((a) => a.abort()));

  async function watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
  ): Promise<{ seen: Seen[]; done: Promise<unknown> }> {
    const seen: Seen[] = [];
    let finish: (err: unknown) => void = () => undefined;
    const done = new Promise((resolve) => (finish = resolve));
    const abort = await new Watch(ctx.kc).watch(
      path,
      query,
      (type, object) => seen.push({ type, object }),
      (err) => finish(err),
    );
    aborts.push(abort);
    return { seen, done };
  }

  it("streams ADDED/MODIFIED/DELETED after a resourceVersion, with bookmarks", async () => {
    const list = await core.listNamespacedConfigMap({ namespace: "w" });
    const { seen } = await watch("/api/v1/namespaces/w/configmaps", {
      resourceVersion: list.metadata?.resourceVersion,
      allowWatchBookmarks: true,
    });
    await eventually("the watch to be established", () =>
      ctx.server.requestLog.filter({ pathPrefix: "/api/v1/namespaces/w/configmaps" }).some((e) => e.watch && e.status === 200),
    );
    await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "a" }, data: { v: "1" } } });
    await core.patchNamespacedConfigMap({ name: "a", namespace: "w", body: [{ op: "add", path: "/data/v", value: "2" }] });
    await core.deleteNamespacedConfigMap({ name: "a", namespace: "w" });
    await eventually(
      "a DELETED event and a bookmark",
      () => seen.some((e) => e.type === "DELETED") && seen.some((e) => e.type === "BOOKMARK"),
    );
    const changes = seen.filter((e) => e.type !== "BOOKMARK");
    expect(changes.map((e) => e.type)).to.deep.equal(["ADDED", "MODIFIED", "DELETED"]);
    expect(changes[1].object.data).to.deep.equal({ v: "2" });
    const versions = changes.map((e) => Number(e.object.metadata.resourceVersion));
    expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
    const bookmark = seen.find((e) => e.type === "BOOKMARK")!;
    expect(bookmark.object.metadata.resourceVersion).to.be.a("string");
  });

  it("replays history from an older resourceVersion and filters by label selector", async () => {
    const start = ctx.server.resourceVersion();
    await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "x", labels: { pick: "yes" } } } });
    await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "y" } } });
    const { seen } = await watch("/api/v1/namespaces/w/configmaps", { resourceVersion: String(start), labelSelector: "pick=yes" });
    await eventually("a watch event", () => seen.length > 0);
    expect(seen.map((e) => e.object.metadata.name)).to.deep.equal(["x"]);
  });

  it("sends ADDED/DELETED when an object enters or leaves a label-selected watch", async () => {
    await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "mover", labels: { pick: "no" } } } });
    const { seen } = await watch("/api/v1/namespaces/w/configmaps", {
      resourceVersion: String(ctx.server.resourceVersion()),
      labelSelector: "pick=yes",
    });
    const relabel = (pick: string) =>
      core.patchNamespacedConfigMap({
        name: "mover",
        namespace: "w",
        body: [{ op: "replace", path: "/metadata/labels/pick", value: pick }],
      });
    await relabel("yes");
    await core.patchNamespacedConfigMap({ name: "mover", namespace: "w", body: [{ op: "add", path: "/data", value: { a: "1" } }] });
    await relabel("no");
    await eventually("three watch events", () => seen.length >= 3);
    expect(seen.map((e) => e.type)).to.deep.equal(["ADDED", "MODIFIED", "DELETED"]);
  });

  it("answers a too-old resourceVersion with an ERROR event carrying 410 Expired", async () => {
    const old = ctx.server.resourceVersion();
    await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "after-old" } } });
    ctx.server.compactHistory();
    const { seen, done } = await watch("/api/v1/namespaces/w/configmaps", { resourceVersion: String(old) });
    await done;
    expect(seen).to.have.length(1);
    expect(seen[0].type).to.equal("ERROR");
    expect(seen[0].object).to.include({ kind: "Status", code: 410, reason: "Expired" });
  });

  it("rejects a malformed resourceVersion", async () => {
    const { done } = await watch("/api/v1/namespaces/w/configmaps", { resourceVersion: "abc" });
    expect(await done).to.have.property("statusCode", 400);
  });

  it("ends the stream after timeoutSeconds", async () => {
    const { done } = await watch("/api/v1/namespaces/w/configmaps", {
      resourceVersion: String(ctx.server.resourceVersion()),
      timeoutSeconds: 1,
    });
    expect(await done).to.equal(null);
  });

  it("drives a client-node informer through resume and 410 relist", async () => {
    const path = "/api/v1/namespaces/w/configmaps";
    const informer = makeInformer<V1ConfigMap>(ctx.kc, path, () => core.listNamespacedConfigMap({ namespace: "w" }));
    const added: string[] = [];
    informer.on("add", (o) => added.push(o.metadata!.name!));
    await informer.start();
    try {
      await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "inf-1" } } });
      await eventually("the informer to add inf-1", () => added.includes("inf-1"));
      ctx.server.dropWatches();
      await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "inf-2" } } });
      await eventually("the informer to add inf-2", () => added.includes("inf-2"));
      await informer.stop();
      await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "inf-3" } } });
      ctx.server.compactHistory();
      ctx.server.requestLog.clear();
      await informer.start();
      await eventually("the informer to add inf-3", () => added.includes("inf-3"));
      const lists = ctx.server.requestLog.filter({ method: "GET", pathPrefix: path }).filter((e) => !e.watch);
      expect(lists.length).to.be.at.least(1);
      expect(informer.get("inf-3", "w")?.metadata?.name).to.equal("inf-3");
    } finally {
      await informer.stop();
    }
  });
});
