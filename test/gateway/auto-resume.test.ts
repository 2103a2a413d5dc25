// Auto-resume that real clients survive: statements for a paused runtime are held (QUEUED) while
// the gateway asks the lifecycle API to resume — once per runtime per gateway — and are handed
// over to the real query when the route is RUNNING and the coordinator healthy.
import { expect } from "chai";
import { BasicAuth, Trino, type QueryResult } from "trino-client";
import type { RunningGateway } from "../../gateway/server.ts";
import { coordinatorIdOf } from "../../gateway/query-id.ts";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/server.ts";
import { startFakeLifecycle, type FakeLifecycle } from "./support/fake-lifecycle.ts";
import { RoutesFile, runQuery, startTestGateway } from "./support/harness.ts";
import { eventually } from "../support/eventually.ts";

describe("gateway auto-resume", function () {
  this.timeout(30_000);
  let backend: TrinoTestServer;
  let routes: RoutesFile;
  let lifecycle: FakeLifecycle;
  const gateways: RunningGateway[] = [];

  const timers: NodeJS.Timeout[] = [];

  beforeEach(async () => {
    // A coordinator still starting (/v1/info starting=true; it would refuse queries).
    backend = await startTrinoTestServer();
    backend.setStarting(true);
    routes = new RoutesFile();
    routes.write([{ namespace: "team-a", name: "sleepy", backend: backend.url, state: "PAUSED", default: true }]);
    // Like the operator after a resume: RESUMING at once, RUNNING once the pods are up — here a
    // little BEFORE the coordinator has finished starting, so the gateway must also wait for health.
    lifecycle = await startFakeLifecycle({
      retryAfterSeconds: 30,
      onResume: (namespace, name) => {
        // Idempotent like the API server: only the first resume changes anything.
        if (routes.routes.find((route) => route.name === name)?.state !== "PAUSED") return;
        routes.setState(namespace, name, "RESUMING");
        timers.push(setTimeout(() => routes.setState(namespace, name, "RUNNING"), 300));
        timers.push(setTimeout(() => backend.setStarting(false), 700));
      },
    });
  });
  afterEach(async () => {
    timers.splice(0).forEach(clearTimeout);
    await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
    await lifecycle.close();
    await backend.close();
    routes.remove();
  });

  it("holds 50 concurrent trino-client queries, resumes once per gateway, and runs them all", async () => {
    gateways.push(
      await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url }),
      await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url }),
    );
    const queries = Array.from({ length: 50 }, (_, i) =>
      runQuery(
        Trino.create({ server: gateways[i % 2].url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "team-a/sleepy" } }),
        `SELECT ${i}`,
      ),
    );
    await eventually("statements to be held", () => gateways.some((gateway) => gateway.core.held.size > 0));
    const results = await Promise.all(queries);
    expect(results).to.have.length(50);
    results.forEach((pages, i) => {
      expect(pages.flatMap((page) => page.data ?? [])).to.deep.equal([[i]]);
      expect(coordinatorIdOf(pages[pages.length - 1].id)).to.equal(backend.coordinatorId);
    });
    expect(backend.stats.statements).to.equal(50);
    // One resume per gateway process (the API server's Lease gates across replicas).
    expect(lifecycle.resumeCalls.get("team-a/sleepy")).to.equal(2);
    for (const gateway of gateways) expect(gateway.core.held.size).to.equal(0);
    const metrics = await (await fetch(`${gateways[0].url}/metrics`)).text();
    expect(metrics).to.match(/xtrinode_gateway_resume_calls_total\{namespace="team-a",runtime="sleepy",outcome="RESUMING"\} 1/);
    expect(lifecycle.activityCalls.get("team-a/sleepy")?.length).to.be.at.least(1);
  });

  it("submits a held statement again while the just-started coordinator fails it with NO_NODES_AVAILABLE (it never ran), and trino-client gets its rows", async () => {
    // Like Trino right after start (trinodb/trino issue 2214): the first statements see no nodes.
    backend.failNextStatementsNoNodes(2);
    backend.failNextStatementsNoNodes(1, "GENERIC_INTERNAL_ERROR"); // "nodes is empty": the same race, met while partitioning

    const gateway = await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url });
    gateways.push(gateway);
    const trino = Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "team-a/sleepy" } });
    const pages = await runQuery(trino, "SELECT * FROM xt_rows(25)");
    expect(pages.flatMap((page) => page.data ?? [])).to.deep.equal(Array.from({ length: 25 }, (_, i) => [i + 1]));
    expect(backend.stats.statements).to.equal(4);
    const failed = backend
      .queryIds()
      .map((id) => backend.query(id)!)
      .filter((query) => query.state === "FAILED");
    expect(failed.map((query) => query.error?.errorName)).to.deep.equal([
      "NO_NODES_AVAILABLE",
      "NO_NODES_AVAILABLE",
      "GENERIC_INTERNAL_ERROR",
    ]);
    // The client followed the query that ran, on its coordinator.
    expect(coordinatorIdOf(pages[pages.length - 1].id)).to.equal(backend.coordinatorId);
    expect(failed.map((query) => query.id)).to.not.include(pages[pages.length - 1].id);
    expect(gateway.core.held.size).to.equal(0);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).to.match(/xtrinode_gateway_held_resubmissions_total\{namespace="team-a",runtime="sleepy"\} 3/);
  });

  it("does not submit again a statement that was not held: its NO_NODES_AVAILABLE failure reaches the client", async () => {
    backend.setStarting(false);
    routes.setState("team-a", "sleepy", "RUNNING");
    backend.failNextStatementsNoNodes(1);
    const gateway = await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url });
    gateways.push(gateway);
    const trino = Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "team-a/sleepy" } });
    let failure: Error | undefined;
    await runQuery(trino, "SELECT 1").catch((error: Error) => (failure = error));
    expect(failure?.message).to.match(/^NO_NODES_AVAILABLE: No nodes available to run query/);
    expect(backend.stats.statements).to.equal(1);
    expect(lifecycle.resumeCalls.get("team-a/sleepy") ?? 0).to.equal(0);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).to.not.match(/xtrinode_gateway_held_resubmissions_total\{/);
  });

  it("lets another replica with the shared ticket key take over a held statement from its nextUri (polls alternate replicas)", async () => {
    const env = { XTRINODE_GATEWAY_TICKET_KEY: "a-shared-ticket-key-of-at-least-32-characters" };
    gateways.push(
      await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url, env }),
      await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url, env }),
    );
    const outsider = await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url }); // no shared key
    gateways.push(outsider);
    const headers = { "x-trino-user": "alice", "x-trino-catalog": "tpch", "x-trino-schema": "tiny" };
    let page = (await (
      await fetch(`${gateways[0].url}/v1/statement`, { method: "POST", headers, body: "SELECT * FROM nation" })
    ).json()) as QueryResult;
    expect(coordinatorIdOf(page.id)).to.equal("gw000");
    // Its id alone gives nobody the statement: a made-up slug, /v1/query, a replica without the key.
    const guessed = (await (
      await fetch(`${gateways[0].url}/v1/statement/queued/${page.id}/made-up/1`, { headers: { "x-trino-user": "mallory" } })
    ).json()) as QueryResult;
    expect(guessed.error?.errorName).to.equal("XTRINODE_QUERY_NOT_FOUND");
    const info = await fetch(`${gateways[0].url}/v1/query/${page.id}`);
    expect(info.status).to.equal(404);
    expect(await info.text()).to.not.contain("nation");
    const elsewhere = (await (
      await fetch(`${outsider.url}${new URL(page.nextUri!).pathname}`, { headers: { "x-trino-user": "alice" } })
    ).json()) as QueryResult;
    expect(elsewhere.error?.errorName).to.equal("XTRINODE_QUERY_NOT_FOUND");
    expect(gateways[0].core.held.size).to.equal(1);

    const data: unknown[] = [];
    let handOver: { url: string; id: string } | undefined;
    for (let poll = 1; page.nextUri; poll++) {
      const url = `${gateways[poll % 2].url}${new URL(page.nextUri).pathname}`;
      // Java's client re-sends only the user on polls: the session must come from the held statement.
      page = (await (await fetch(url, { headers: { "x-trino-user": "alice" } })).json()) as QueryResult;
      expect(page.error, page.error?.message).to.equal(undefined);
      if (!handOver && coordinatorIdOf(page.id) !== "gw000") handOver = { url, id: page.id };
      data.push(...(page.data ?? []));
    }
    expect(data).to.have.length(25);
    const submitted = backend.query(backend.queryIds()[0]);
    expect(submitted?.headers["x-trino-catalog"]).to.equal("tpch");
    expect(submitted?.user).to.equal("alice");
    // A client retrying the hand-over poll gets the same first page: the statement does not run twice.
    const again = (await (await fetch(handOver!.url, { headers: { "x-trino-user": "alice" } })).json()) as QueryResult;
    expect(again.id).to.equal(handOver!.id);
    expect(backend.stats.statements).to.equal(1);
  });

  it("a held statement is submitted once while its submission outlasts the polls that alternate replicas (the submitting replica marks its nextUri)", async () => {
    const env = { XTRINODE_GATEWAY_TICKET_KEY: "a-shared-ticket-key-of-at-least-32-characters" };
    gateways.push(
      await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url, env }),
      await startTestGateway(routes, {}, { lifecycleUrl: lifecycle.url, env }),
    );
    // Each poll of the coordinator takes longer than a held poll waits (100 ms here): the replica
    // that submits answers QUEUED several times before it has the first page.
    backend.setPageDelay(400);
    const headers = { "x-trino-user": "alice", "x-trino-catalog": "tpch", "x-trino-schema": "tiny" };
    let page = (await (
      await fetch(`${gateways[0].url}/v1/statement`, { method: "POST", headers, body: "SELECT * FROM nation" })
    ).json()) as QueryResult;
    const data: unknown[] = [];
    let queuedAnswers = 0;
    for (let poll = 1; page.nextUri; poll++) {
      page = (await (await fetch(`${gateways[poll % 2].url}${new URL(page.nextUri).pathname}`, { headers })).json()) as QueryResult;
      expect(page.error, page.error?.message).to.equal(undefined);
      if (page.stats?.state === "QUEUED") queuedAnswers++;
      data.push(...(page.data ?? []));
    }
    expect(data).to.have.length(25);
    expect(queuedAnswers).to.be.greaterThan(2);
    expect(backend.stats.statements).to.equal(1);
  });

  it("ends held statements at once with the operator's reason when the route turns FAILED (a rollout that cannot finish), and refuses new ones", async () => {
    await lifecycle.close();
    lifecycle = await startFakeLifecycle({
      retryAfterSeconds: 30,
      onResume: (namespace, name) => routes.setState(namespace, name, "RESUMING"),
    });
    const gateway = await startTestGateway(
      routes,
      { held: { maxQueries: 10, abandonAfterMs: 60_000, maxAgeMs: 600_000, pollWaitMs: 50 } },
      { lifecycleUrl: lifecycle.url },
    );
    gateways.push(gateway);
    const post = async () =>
      (await (
        await fetch(`${gateway.url}/v1/statement`, { method: "POST", headers: { "x-trino-user": "t" }, body: "SELECT 1" })
      ).json()) as QueryResult;
    const held = await post();
    expect(held.stats?.state).to.equal("QUEUED");
    await eventually("the resume", () => routes.routes[0].state === "RESUMING");
    const reason =
      "Deployment team-a/sleepy-trino-coordinator: ReplicaSet has timed out progressing.; pod Pending: Unschedulable: 0/3 nodes are available";
    routes.write(routes.routes.map((route) => ({ ...route, state: "FAILED", message: reason })));
    let page = held;
    for (let polls = 0; page.nextUri && polls < 200; polls++) page = (await (await fetch(page.nextUri)).json()) as QueryResult;
    expect(page.stats?.state).to.equal("FAILED");
    expect(page.error?.errorName).to.equal("XTRINODE_RESUME_FAILED");
    expect(page.error?.message).to.equal(`XTrinode runtime team-a/sleepy cannot start: ${reason}`);
    expect(gateway.core.held.size).to.equal(0);
    const refused = await post();
    const failed = refused.nextUri ? ((await (await fetch(refused.nextUri)).json()) as QueryResult) : refused;
    expect(failed.error?.errorName).to.equal("XTRINODE_RESUME_FAILED");
    expect(lifecycle.resumeCalls.get("team-a/sleepy")).to.equal(1);
  });

  it("bounds held statements with a clear Trino error, and drops those nobody polls", async () => {
    // A lifecycle API that never makes the runtime RUNNING.
    await lifecycle.close();
    lifecycle = await startFakeLifecycle({ retryAfterSeconds: 30 });
    const env = { XTRINODE_GATEWAY_TICKET_KEY: "a-shared-ticket-key-of-at-least-32-characters" };
    const held_ = { held: { maxQueries: 3, abandonAfterMs: 300, maxAgeMs: 2500, pollWaitMs: 50 } };
    const gateway = await startTestGateway(routes, held_, { lifecycleUrl: lifecycle.url, env });
    const replica = await startTestGateway(routes, held_, { lifecycleUrl: lifecycle.url, env });
    gateways.push(gateway, replica);
    const post = async () =>
      (await (
        await fetch(`${gateway.url}/v1/statement`, { method: "POST", headers: { "x-trino-user": "t" }, body: "SELECT 1" })
      ).json()) as QueryResult;
    const held = [await post(), await post(), await post()];
    // Every ticket was sealed by now (a moment taken before the posts, or before the gateways started, makes the tickets look older than they are).
    const postedAt = Date.now();
    expect(held.map((result) => result.stats?.state)).to.deep.equal(["QUEUED", "QUEUED", "QUEUED"]);
    // Like Trino, the failure arrives on the first poll (QUEUED first), which every client shows.
    const queued = await post();
    expect(queued.stats?.state).to.equal("QUEUED");
    const refused = (await (await fetch(queued.nextUri!, { headers: { "x-trino-user": "t" } })).json()) as QueryResult;
    expect(refused.stats?.state).to.equal("FAILED");
    expect(refused.error?.errorName).to.equal("XTRINODE_TOO_MANY_HELD_QUERIES");
    expect(refused.error?.message).to.contain("team-a/sleepy");
    expect(lifecycle.resumeCalls.get("team-a/sleepy")).to.equal(1);
    // Nobody polls: the gateway gives the statements up, and a late poll is told so (not run again).
    await eventually("abandoned statements to be dropped", () => gateway.core.held.size === 0);
    const late = (await (await fetch(held[0].nextUri!)).json()) as QueryResult;
    expect(late.error?.errorName).to.equal("XTRINODE_QUERY_NOT_FOUND");
    expect(late.error?.message).to.contain("its client stopped polling");
    expect(gateway.core.held.size).to.equal(0);
    // Another replica could adopt its ticket, but not past the maximum age.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, postedAt + 2600 - Date.now())));
    const elsewhere = (await (await fetch(held[1].nextUri!.replace(gateway.url, replica.url))).json()) as QueryResult;
    expect(elsewhere.error?.errorName).to.equal("XTRINODE_RESUME_TIMEOUT");
    expect(elsewhere.error?.message).to.contain("team-a/sleepy did not resume");
    expect(replica.core.held.size).to.equal(0);
  });
});
