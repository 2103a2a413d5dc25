import { expect } from "chai";
import { AuthenticationV1Api, CoordinationV1Api, CoreV1Api, EventsV1Api } from "@kubernetes/client-node";
import { apiError, useServer } from "./support.ts";

describe("kube-api-server: leases, events, token reviews", () => {
  const ctx = useServer({
    tokens: {
      "gateway-token": { username: "system:serviceaccount:xtrinode-gateway:xtrinode-gateway", groups: ["system:serviceaccounts"] },
    },
  });

  it("supports lease acquisition with optimistic concurrency and microsecond times", async () => {
    const leases = ctx.kc.makeApiClient(CoordinationV1Api);
    const acquired = new Date("2026-01-02T03:04:05.678Z");
    const lease = await leases.createNamespacedLease({
      namespace: "default",
      body: {
        metadata: { name: "xtrinode-operator" },
        spec: { holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: acquired as never, renewTime: acquired as never },
      },
    });
    expect(String(lease.spec?.renewTime)).to.equal("2026-01-02T03:04:05.678000Z");
    const renewedByA = await leases.replaceNamespacedLease({
      name: "xtrinode-operator",
      namespace: "default",
      body: { ...lease, spec: { ...lease.spec, renewTime: "2026-01-02T03:04:10.000001Z" as never } },
    });
    expect(String(renewedByA.spec?.renewTime)).to.equal("2026-01-02T03:04:10.000001Z");
    const takeoverFromStale = await apiError(() =>
      leases.replaceNamespacedLease({
        name: "xtrinode-operator",
        namespace: "default",
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "b" } },
      }),
    );
    expect(takeoverFromStale.code).to.equal(409);
    const current = await leases.readNamespacedLease({ name: "xtrinode-operator", namespace: "default" });
    expect(current.spec?.holderIdentity).to.equal("a");
  });

  it("stores core/v1 and events.k8s.io/v1 Events, second-precision timestamps on core events", async () => {
    const core = ctx.kc.makeApiClient(CoreV1Api);
    const coreEvent = await core.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "rt.1" },
        involvedObject: { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", name: "rt", namespace: "default" },
        reason: "NodePoolFailed",
        message: "no capacity",
        type: "Warning",
        firstTimestamp: new Date("2026-01-02T03:04:05.678Z"),
        count: 1,
      },
    });
    expect(coreEvent.firstTimestamp?.toISOString()).to.equal("2026-01-02T03:04:05.000Z");
    const events = ctx.kc.makeApiClient(EventsV1Api);
    await events.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "rt.2" },
        eventTime: "2026-01-02T03:04:05.123456Z" as never,
        reason: "Resuming",
        note: "waking up",
        type: "Normal",
        action: "Resume",
        reportingController: "xtrinode.io/operator",
        reportingInstance: "op-1",
        regarding: { kind: "XTrinode", name: "rt", namespace: "default" },
      },
    });
    const listed = await events.listNamespacedEvent({ namespace: "default", fieldSelector: "reason=Resuming" });
    expect(listed.items.map((e) => e.note)).to.deep.equal(["waking up"]);
    const coreList = await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=rt,type=Warning" });
    expect(coreList.items.map((e) => e.reason)).to.deep.equal(["NodePoolFailed"]);
  });

  it("authenticates registered tokens in TokenReview and rejects others", async () => {
    const auth = ctx.kc.makeApiClient(AuthenticationV1Api);
    const ok = await auth.createTokenReview({ body: { spec: { token: "gateway-token" } } });
    expect(ok.status?.authenticated).to.equal(true);
    expect(ok.status?.user?.username).to.equal("system:serviceaccount:xtrinode-gateway:xtrinode-gateway");
    const bad = await auth.createTokenReview({ body: { spec: { token: "nope" } } });
    expect(bad.status?.authenticated).to.equal(false);
    ctx.server.addToken("later", { username: "late-user" });
    const later = await auth.createTokenReview({ body: { spec: { token: "later" } } });
    expect(later.status?.user?.username).to.equal("late-user");
  });
});
