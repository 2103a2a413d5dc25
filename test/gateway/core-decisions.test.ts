// Pure decision functions of the gateway: query ids, route selection, backend choice,
// token bucket, breaker, bounded maps, forwarded headers.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { decideNewQuery } from "../../gateway/backend-choice.ts";
import { BoundedMap } from "../../gateway/bounded-map.ts";
import { connectionOptions, forwardableHeaders, withoutHopByHop } from "../../gateway/backend-http.ts";
import { admitNewQuery, breakerAllows, closedBreaker, ejectionMs, recordFailure, recordSuccess } from "../../gateway/breaker.ts";
import { forwardedView, trustedProxies } from "../../gateway/forwarded.ts";
import { relayRequestHeaders } from "../../gateway/proxy.ts";
import { backendTag } from "../../gateway/transactions.ts";
import { coordinatorIdOf, createQueryIdGenerator, heldCoordinatorId, isHeldQueryId } from "../../gateway/query-id.ts";
import { followUpQueryId, isNewStatement } from "../../gateway/request-target.ts";
import { buildRouteTable, selectTarget } from "../../gateway/route-table.ts";
import { fullBucket, takeToken } from "../../gateway/token-bucket.ts";
import { InFlightQueries } from "../../gateway/sticky.ts";
import { statementAnswerOf, statementHeaders } from "../../gateway/submit-statement.ts";
import { gzipSync } from "node:zlib";
import { bodyScanner, nextUriScanner } from "../../gateway/forward-follow-up.ts";
import { maxTicketChars, TicketSealer, ticketHeaders } from "../../gateway/held/queries.ts";

function route(namespace: string, name: string, extra: Partial<RouteEntry> = {}): RouteEntry {
  return { namespace, name, backend: `http://${name}.${namespace}:8080`, state: "RUNNING", ...extra };
}

const table = buildRouteTable({
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "GatewayRoutes",
  routes: [
    route("team-a", "analytics", { hostnames: ["analytics.trino.example.com"] }),
    route("team-b", "analytics"),
    route("team-b", "etl", { default: true }),
    route("shared", "s1", { pool: "shared" }),
    route("shared", "s2", { pool: "shared" }),
  ],
});

describe("gateway query ids", () => {
  it("takes the coordinator id from the last part of a Trino query id", () => {
    expect(coordinatorIdOf("20260101_120000_00001_abc23")).to.equal("abc23");
    expect(coordinatorIdOf("not-a-query-id")).to.equal(undefined);
  });
  it("finds the query id of every follow-up path and nothing else", () => {
    expect(followUpQueryId("/v1/statement/queued/20260101_120000_00001_abc23/xyz/1")).to.equal("20260101_120000_00001_abc23");
    expect(followUpQueryId("/v1/statement/executing/20260101_120000_00001_abc23/xyz/2")).to.equal("20260101_120000_00001_abc23");
    expect(followUpQueryId("/v1/query/20260101_120000_00001_abc23")).to.equal("20260101_120000_00001_abc23");
    expect(followUpQueryId("/v1/statement")).to.equal(undefined);
    expect(followUpQueryId("/v1/info")).to.equal(undefined);
    expect(isNewStatement("POST", "/v1/statement")).to.equal(true);
    expect(isNewStatement("GET", "/v1/statement")).to.equal(false);
  });
  it("generates held ids in Trino's format with the reserved coordinator id", () => {
    const next = createQueryIdGenerator(heldCoordinatorId, () => new Date("2026-03-04T05:06:07Z"));
    const first = next();
    expect(first).to.equal("20260304_050607_00001_gw000");
    expect(next()).to.equal("20260304_050607_00002_gw000");
    expect(isHeldQueryId(first)).to.equal(true);
    expect(isHeldQueryId("20260304_050607_00002_abc23")).to.equal(false);
  });
});

describe("gateway route selection", () => {
  it("prefers the header (namespace/name, or an unambiguous name) over the hostname", () => {
    const byKey = selectTarget(table, { header: "team-b/analytics", hostname: "analytics.trino.example.com" });
    expect(byKey.ok && byKey.target.members.map((r) => r.namespace)).to.deep.equal(["team-b"]);
    const byName = selectTarget(table, { header: "etl" });
    expect(byName.ok && byName.target.label).to.equal("team-b/etl");
  });
  it("names an ambiguous or unknown runtime in the error", () => {
    const ambiguous = selectTarget(table, { header: "analytics" });
    expect(ambiguous.ok).to.equal(false);
    expect(!ambiguous.ok && ambiguous.message)
      .to.contain("team-a/analytics")
      .and.contain("team-b/analytics");
    const unknown = selectTarget(table, { header: "team-z/nope" });
    expect(!unknown.ok && unknown.message).to.contain('"team-z/nope"');
  });
  it("routes by hostname, then a pool named by the first hostname label, then the default", () => {
    const byHost = selectTarget(table, { hostname: "analytics.trino.example.com" });
    expect(byHost.ok && byHost.target.label).to.equal("team-a/analytics");
    const byPool = selectTarget(table, { hostname: "shared.trino.example.com" });
    expect(byPool.ok && byPool.target.members.map((r) => r.name)).to.deep.equal(["s1", "s2"]);
    const byDefault = selectTarget(table, { hostname: "other.example.com" });
    expect(byDefault.ok && byDefault.target.via).to.equal("default");
  });
  it("selects by the client tag xtrinode=… and X-Trino-Routing-Group: header → tag → routing group → hostname", () => {
    const label = (input: Parameters<typeof selectTarget>[1]) => {
      const selection = selectTarget(table, input);
      return selection.ok ? `${selection.target.via} ${selection.target.label}` : selection.message;
    };
    const host = "analytics.trino.example.com"; // team-a/analytics
    expect(label({ clientTags: "report, xtrinode=team-b/analytics ,nightly", hostname: host })).to.equal("client-tag team-b/analytics");
    expect(label({ clientTags: "xtrinode=etl" })).to.equal("client-tag team-b/etl");
    expect(label({ clientTags: "xtrinode=shared" })).to.equal("pool pool:shared");
    expect(label({ routingGroup: "team-b/etl", hostname: host })).to.equal("routing-group team-b/etl");
    expect(label({ routingGroup: "shared" })).to.equal("pool pool:shared");
    expect(label({ header: "team-b/etl", clientTags: "xtrinode=team-b/analytics", routingGroup: "shared" })).to.equal("header team-b/etl");
    expect(label({ clientTags: "xtrinode=team-b/etl", routingGroup: "shared", hostname: host })).to.equal("client-tag team-b/etl");
    // Tags that are not xtrinode=… select nothing: on to the next selector.
    expect(label({ clientTags: "xtrinode, team=b, xtrinodex=team-b/etl", routingGroup: "team-b/etl" })).to.equal(
      "routing-group team-b/etl",
    );
    expect(label({ clientTags: "", hostname: host })).to.equal("hostname team-a/analytics");
  });
  it("names the tag or routing group of an unknown, ambiguous or conflicting runtime, and never falls through", () => {
    const message = (input: Parameters<typeof selectTarget>[1]) => {
      const selection = selectTarget(table, input);
      return selection.ok ? "selected" : selection.message;
    };
    expect(message({ clientTags: "xtrinode=team-z/nope", hostname: "analytics.trino.example.com" })).to.equal(
      'XTrinode runtime "team-z/nope" (from the client tag xtrinode=team-z/nope) is not known to this gateway',
    );
    expect(message({ routingGroup: "nope" })).to.equal(
      'XTrinode runtime "nope" (from the X-Trino-Routing-Group header) is not known to this gateway',
    );
    expect(message({ clientTags: "xtrinode=analytics" })).to.contain(
      "(from the client tag xtrinode=analytics) is ambiguous (team-a/analytics, team-b/analytics); set the client tag xtrinode=namespace/name",
    );
    expect(message({ clientTags: "xtrinode=team-b/etl,xtrinode=team-a/analytics" })).to.equal(
      "the client tags name several XTrinode runtimes (xtrinode=team-b/etl, xtrinode=team-a/analytics); keep one xtrinode=namespace/name tag",
    );
    expect(message({ clientTags: "xtrinode=team-b/etl,xtrinode=team-b/etl" })).to.equal("selected");
  });
  it("has no target without a default route", () => {
    const noDefault = buildRouteTable({ apiVersion: "xtrinode.io/v1alpha1", kind: "GatewayRoutes", routes: [route("a", "x")] });
    const selection = selectTarget(noDefault, { hostname: "gateway.local" });
    expect(selection.ok).to.equal(false);
  });
  it("balances a DRAINING pool member's new queries onto the rest of its pool", () => {
    const draining = buildRouteTable({
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "GatewayRoutes",
      routes: [route("s", "p1", { pool: "p", state: "DRAINING" }), route("s", "p2", { pool: "p" })],
    });
    const selection = selectTarget(draining, { header: "s/p1" });
    expect(selection.ok && selection.target.members.map((r) => r.name)).to.deep.equal(["p1", "p2"]);
    const decision = selection.ok && decideNewQuery(selection.target, () => ({ usable: true, outstanding: 0 }));
    expect(decision && decision.action === "forward" && decision.route.name).to.equal("p2");
  });
});

describe("gateway backend choice", () => {
  const target = (members: RouteEntry[]) => ({ label: "t", members, via: "pool" as const });
  it("picks the usable RUNNING member with the fewest outstanding queries", () => {
    const members = [route("s", "a"), route("s", "b"), route("s", "c")];
    const load: Record<string, number> = { a: 5, b: 1, c: 0 };
    const decision = decideNewQuery(target(members), (r) => ({ usable: r.name !== "c", outstanding: load[r.name] }));
    expect(decision.action === "forward" && decision.route.name).to.equal("b");
  });
  it("holds for PAUSED/RESUMING (a resuming member first), and for a lone DRAINING runtime", () => {
    const decision = decideNewQuery(target([route("s", "a", { state: "PAUSED" }), route("s", "b", { state: "RESUMING" })]), () => ({
      usable: true,
      outstanding: 0,
    }));
    expect(decision.action === "hold" && decision.route.name).to.equal("b");
    const lone = decideNewQuery(target([route("s", "d", { state: "DRAINING" })]), () => ({ usable: true, outstanding: 0 }));
    expect(lone.action).to.equal("hold");
  });
  it("refuses a FAILED runtime at once with the operator's reason; a pool holds on a member that can still wake", () => {
    const failed = route("s", "a", { state: "FAILED", message: "Deployment s/a-trino-coordinator: timed out; pod Pending: Unschedulable" });
    const decision = decideNewQuery(target([failed]), () => ({ usable: true, outstanding: 0 }));
    expect(decision.action === "reject" && [decision.reason, decision.message]).to.deep.equal([
      "failed",
      "XTrinode runtime s/a cannot start: Deployment s/a-trino-coordinator: timed out; pod Pending: Unschedulable",
    ]);
    const pool = decideNewQuery(target([failed, route("s", "b", { state: "PAUSED" })]), () => ({ usable: true, outstanding: 0 }));
    expect(pool.action === "hold" && pool.route.name).to.equal("b");
  });
  it("refuses when only unhealthy or removed members are left", () => {
    const unhealthy = decideNewQuery(target([route("s", "a")]), () => ({ usable: false, outstanding: 0 }));
    expect(unhealthy.action === "reject" && unhealthy.reason).to.equal("unhealthy");
    const removed = decideNewQuery(target([route("s", "a", { state: "REMOVED" })]), () => ({ usable: true, outstanding: 0 }));
    expect(removed.action === "reject" && removed.reason).to.equal("removed");
  });
});

describe("gateway token bucket", () => {
  it("allows a burst, then refuses until tokens refill", () => {
    const limits = { ratePerSecond: 2, burst: 2 };
    let bucket = fullBucket(limits, 0);
    const outcomes = [0, 0, 0].map(() => {
      const result = takeToken(bucket, limits, 0);
      bucket = result.bucket;
      return result;
    });
    expect(outcomes.map((o) => o.allowed)).to.deep.equal([true, true, false]);
    expect(outcomes[2].retryAfterMs).to.equal(500);
    expect(takeToken(bucket, limits, 500).allowed).to.equal(true);
  });
});

describe("gateway circuit breaker", () => {
  const settings = { failureThreshold: 3, ejectionBaseMs: 1000, ejectionMaxMs: 3000 };
  it("opens after N consecutive failures with a growing, capped back-off, half-opens, then closes", () => {
    let state = closedBreaker;
    state = recordFailure(state, 0, settings);
    state = recordFailure(state, 0, settings);
    expect(state.phase).to.equal("closed");
    state = recordFailure(state, 0, settings);
    expect(state.phase).to.equal("open");
    expect(breakerAllows(state, 999)).to.equal(false);
    const trial = admitNewQuery(state, 1000);
    expect(trial.admitted).to.equal(true);
    expect(trial.state.phase).to.equal("half-open");
    expect(admitNewQuery(trial.state, 1001).admitted).to.equal(false);
    state = recordFailure(trial.state, 1001, settings);
    expect(state.phase).to.equal("open");
    expect(state.openUntilMs - 1001).to.equal(2000);
    expect(ejectionMs(5, settings)).to.equal(3000);
    expect(recordSuccess(state).phase).to.equal("closed");
  });
});

describe("gateway bounded state", () => {
  it("evicts the least recently used entry and reports it", () => {
    const evicted: string[] = [];
    const map = new BoundedMap<string, number>(2, (key) => evicted.push(key));
    map.set("a", 1).set("b", 2);
    map.get("a");
    map.set("c", 3);
    expect(evicted).to.deep.equal(["b"]);
    expect(map.size).to.equal(2);
  });
  it("keeps in-flight counts right through finish, eviction and idle sweep", () => {
    const queries = new InFlightQueries(2, 1000);
    queries.running("q1", "ns/a", "http://a", 0);
    queries.running("q2", "ns/a", "http://a", 0);
    queries.running("q3", "ns/b", "http://b", 500);
    expect(queries.perRuntime.get("ns/a")).to.equal(1);
    queries.finished("q2");
    expect(queries.perRuntime.has("ns/a")).to.equal(false);
    queries.sweep(2000);
    expect(queries.size).to.equal(0);
    expect(queries.perBackend.size).to.equal(0);
  });
  it("reads a statement answer's query id and nextUri, Trino's compact form without parsing, anything else as JSON", () => {
    const id = "20261203_154500_00001_abcde";
    const queued = { id, infoUri: "http://c/ui", nextUri: `http://c/v1/statement/queued/${id}/y/1`, stats: { state: "QUEUED" } };
    expect(statementAnswerOf(Buffer.from(JSON.stringify(queued)))).to.deep.equal({ id, running: true });
    expect(statementAnswerOf(Buffer.from(JSON.stringify(queued, null, 2)))).to.deep.equal({ id, running: true });
    // "nextUri" only inside a string (escaped quotes) or with an empty value: not running.
    const failed = { id, error: { message: 'no "nextUri":"x" here' }, stats: { state: "FAILED" } };
    expect(statementAnswerOf(Buffer.from(JSON.stringify(failed)))).to.deep.equal({ id, running: false });
    expect(statementAnswerOf(Buffer.from(JSON.stringify({ id, nextUri: "" })))).to.deep.equal({ id, running: false });
    // Not a query id in first place, or no QueryResults at all.
    expect(statementAnswerOf(Buffer.from('{"id":"x","nextUri":"http://c/1"}'))).to.deep.equal({ id: "x", running: true });
    expect(statementAnswerOf(Buffer.from('{"id":"20261203_154500_00001_abcde"'))).to.equal(undefined);
    expect(statementAnswerOf(Buffer.from("<html>busy</html>"))).to.equal(undefined);
    expect(statementAnswerOf(Buffer.from('{"error":"no"}'))).to.equal(undefined);
    expect(statementAnswerOf(Buffer.from("null"))).to.equal(undefined);
  });
  it("submits a statement with the client's headers (repeated ones kept), the gateway's forwarding headers, identity encoding and the body's length", () => {
    const forwarded = { proto: "https", host: "gw.example:8443", hostname: "gw.example", forwardedFor: "10.0.0.9", client: "10.0.0.9" };
    const client = {
      "x-trino-user": "alice",
      "x-trino-session": ["a=1", "b=2"],
      "accept-encoding": "gzip",
      "content-length": "99",
      expect: "100-continue",
      // Hop-by-hop (also those Connection lists, and a proxy's credentials), Host and a client's own
      // forwarding headers never go on (the gateway sets its own).
      connection: "keep-alive, x-hop-only",
      "x-hop-only": "1",
      "proxy-authorization": "Basic cHJveHk6c2VjcmV0",
      host: "gw.example:8443",
      "x-forwarded-host": "evil.example",
      forwarded: "host=evil.example",
    };
    expect(statementHeaders(client, forwarded, 8)).to.deep.equal([
      ...["x-trino-user", "alice", "x-trino-session", "a=1", "x-trino-session", "b=2"],
      ...["x-forwarded-for", "10.0.0.9", "x-forwarded-proto", "https", "x-forwarded-host", "gw.example:8443"],
      ...["accept-encoding", "identity", "content-length", "8"],
    ]);
  });
  it("sweeps the idle queries, also behind one polled again later, and keeps the active ones", () => {
    const queries = new InFlightQueries(10, 1000);
    queries.running("q1", "ns/a", "http://a", 0);
    queries.running("q2", "ns/a", "http://a", 0);
    queries.running("q3", "ns/b", "http://b", 100);
    queries.running("q1", "ns/a", "http://a", 1500); // polled again: now the most recent
    queries.sweep(1200);
    expect([queries.get("q1")?.lastSeenMs, queries.get("q2"), queries.get("q3")]).to.deep.equal([1500, undefined, undefined]);
    expect(Object.fromEntries(queries.perRuntime)).to.deep.equal({ "ns/a": 1 });
    queries.sweep(2600);
    expect(queries.size).to.equal(0);
    expect(queries.perRuntime.size + queries.perBackend.size).to.equal(0);
  });
  it("moves a polled query to the end at most once a second, and still sweeps an idle query behind one polled in that second", () => {
    // idleMs 10 s: polls move a query to the end of the map at most once per 1,000 ms.
    const queries = new InFlightQueries(10, 10_000);
    queries.running("q1", "ns/a", "http://a", 0);
    queries.running("q2", "ns/a", "http://a", 0);
    queries.running("q1", "ns/a", "http://a", 500); // polled, not moved: still in front of q2
    queries.sweep(10_200); // q1 idle 9.7 s (kept), q2 idle 10.2 s behind it (ended)
    expect([queries.get("q1")?.lastSeenMs, queries.get("q2")]).to.deep.equal([500, undefined]);
    // Eviction for space takes the least recently moved: q3 (moved at 1,500) outlives q4 (0).
    const full = new InFlightQueries(2, 10_000);
    full.running("q3", "ns/a", "http://a", 0);
    full.running("q4", "ns/a", "http://a", 0);
    full.running("q3", "ns/a", "http://a", 1500);
    full.running("q5", "ns/a", "http://a", 1600);
    expect([full.get("q3")?.lastSeenMs, full.get("q4"), full.size]).to.deep.equal([1500, undefined, 2]);
  });
});

describe("gateway forwarded headers", () => {
  const trusted = trustedProxies(["10.0.0.0/8", "::1/128"]);
  const headers = {
    host: "gw.internal:8080",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "trino.example.com",
    "x-forwarded-for": "203.0.113.9",
  };
  it("honours X-Forwarded-* from a trusted proxy", () => {
    const view = forwardedView(headers, "::ffff:10.1.2.3", "http", trusted);
    expect(view).to.deep.equal({
      proto: "https",
      host: "trino.example.com",
      hostname: "trino.example.com",
      forwardedFor: "203.0.113.9, 10.1.2.3",
      client: "203.0.113.9",
    });
  });
  it("ignores them from anyone else, so a client cannot steer nextUri", () => {
    const view = forwardedView(headers, "192.168.1.5", "http", trusted);
    expect(view).to.deep.equal({
      proto: "http",
      host: "gw.internal:8080",
      hostname: "gw.internal",
      forwardedFor: "192.168.1.5",
      client: "192.168.1.5",
    });
  });
  it("takes the client address from the right of X-Forwarded-For: entries a client wrote itself prove nothing", () => {
    // The client claims 198.51.100.1; the ingress (trusted) appended the address it saw, 203.0.113.7.
    const spoofed = forwardedView({ ...headers, "x-forwarded-for": "198.51.100.1, 203.0.113.7" }, "10.1.2.3", "http", trusted);
    expect(spoofed.client).to.equal("203.0.113.7");
    // Two trusted hops: skipped; a garbage entry is not trusted, so it is the client.
    expect(forwardedView({ ...headers, "x-forwarded-for": "203.0.113.7, 10.9.9.9" }, "10.1.2.3", "http", trusted).client).to.equal(
      "203.0.113.7",
    );
    expect(forwardedView({ ...headers, "x-forwarded-for": "unknown" }, "10.1.2.3", "http", trusted).client).to.equal("unknown");
  });
  it("folds a trusted proxy's X-Forwarded-Port into the host (it is not forwarded)", () => {
    const view = forwardedView(
      { ...headers, "x-forwarded-host": "trino.example.com", "x-forwarded-port": "8443" },
      "10.1.2.3",
      "http",
      trusted,
    );
    expect(view.host).to.equal("trino.example.com:8443");
    expect(forwardedView({ ...headers, "x-forwarded-port": "443" }, "10.1.2.3", "http", trusted).host).to.equal("trino.example.com");
  });
  it("replaces every forwarding header a coordinator's Jetty reads with the gateway's own, in the one pass that builds a relayed request's headers", () => {
    const incoming: Record<string, string | string[]> = {
      forwarded: "host=evil.example;proto=https",
      "x-forwarded-port": "1",
      "x-forwarded-server": "s",
      "x-forwarded-prefix": "/p",
      "x-proxied-https": "on",
      "proxy-auth-cert": "c",
      "x-trino-user": "alice",
      "x-forwarded-host": "evil.example",
    };
    const view = forwardedView(incoming, "192.168.1.5", "http", trusted);
    const relayed = relayRequestHeaders(
      {
        ...incoming,
        host: "gateway:8080",
        // Hop-by-hop: the standard ones, those the Connection header lists, a proxy's credentials.
        connection: "keep-alive, X-Hop-Only",
        "x-hop-only": "1",
        "keep-alive": "timeout=5",
        "proxy-authorization": "Basic cHJveHk6c2VjcmV0",
        "x-trino-transaction-id": `tx-1.${backendTag("http://b:8080")}`,
        "x-trino-client-tags": ["a", "b"],
      },
      "b:8080",
      view,
    );
    const pairs: string[][] = [];
    for (let i = 0; i < relayed.length; i += 2) pairs.push([relayed[i], relayed[i + 1]]);
    expect(pairs).to.deep.equal([
      ["x-trino-user", "alice"],
      ["x-trino-transaction-id", "tx-1"],
      ["x-trino-client-tags", "a"],
      ["x-trino-client-tags", "b"],
      ["host", "b:8080"],
      ["x-forwarded-for", "192.168.1.5"],
      ["x-forwarded-proto", "http"],
      ["x-forwarded-host", "localhost"],
    ]);
  });
  it("drops the headers a Connection header lists in the held statement's copy and between workers too", () => {
    const incoming = { connection: "Keep-Alive, X-Hop-Only ,te", "x-hop-only": "1", "x-trino-user": "alice", te: "trailers" };
    expect(connectionOptions(incoming.connection)).to.deep.equal(new Set(["x-hop-only"]));
    expect(connectionOptions("keep-alive")).to.equal(undefined);
    expect(forwardableHeaders(incoming)).to.deep.equal({ "x-trino-user": "alice" });
    expect(withoutHopByHop(incoming)).to.deep.equal({ "x-trino-user": "alice" });
  });
  it("rejects a malformed CIDR naming it", () => {
    expect(() => trustedProxies(["10.0.0.0/abc"])).to.throw(/10\.0\.0\.0\/abc/);
  });
});

describe("gateway held-statement tickets", () => {
  const key = "a-shared-ticket-key-of-at-least-32-characters";
  const sealer = new TicketSealer(key);
  const ticket = {
    id: "20261124_101010_00001_gw000",
    namespace: "team-a",
    name: "sleepy",
    sql: "SELECT 1",
    headers: { "x-trino-user": "alice", "x-trino-catalog": "tpch", "x-trino-extra-credential": "s3.secret=AKIAEXAMPLE" },
    createdAtMs: 1234,
    principal: "alice",
  };
  it("round-trips a held statement through its nextUri slug, sealed: unreadable in the URL, opened by any replica with the key", () => {
    const slug = sealer.slug(ticket);
    expect(new TicketSealer(key).open(slug)).to.deep.equal(ticket);
    const raw = Buffer.from(slug.slice(2), "base64url");
    for (const text of ["SELECT", "alice", "AKIAEXAMPLE", "team-a"]) expect(raw.includes(text), text).to.equal(false);
    expect(sealer.slug(ticket)).to.not.equal(slug); // a fresh IV every time
    expect(ticketHeaders({ authorization: "Basic x", "x-trino-user": "alice", cookie: "c" })).to.deep.equal({ "x-trino-user": "alice" });
  });
  it("deflates tickets: a typical 20 KB BI statement still travels in its nextUri", () => {
    const columns = Array.from(
      { length: 220 },
      (_, i) => `sum(case when o.order_status = 'S${i}' then o.total_price else 0 end) as total_status_${i}`,
    );
    const sql = `SELECT o.customer_key, ${columns.join(",\n  ")}\nFROM tpch.sf1.orders o GROUP BY o.customer_key`;
    expect(sql.length).to.be.greaterThan(15_000);
    const slug = sealer.slug({ ...ticket, sql });
    expect(slug.length).to.be.at.most(maxTicketChars);
    expect(sealer.open(slug)).to.deep.equal({ ...ticket, sql });
  });
  it("keeps statements too large for a URI replica-local, and opens nothing forged, tampered with or sealed under another key", () => {
    expect(sealer.open(sealer.slug({ ...ticket, sql: randomBytes(8000).toString("base64") }))).to.equal(undefined);
    // Forged: the old unsealed format, or anything made without the key.
    const unsealed = (value: unknown) => `e.${deflateRawSync(Buffer.from(JSON.stringify(value))).toString("base64url")}`;
    expect(sealer.open(unsealed([ticket.id, "a", "b", "SELECT 1", { "x-trino-user": "eve" }, 0, ""]))).to.equal(undefined);
    expect(sealer.open(`z.${deflateRawSync(Buffer.from("[]")).toString("base64url")}`)).to.equal(undefined);
    expect(new TicketSealer("another-key-of-at-least-32-characters-long").open(sealer.slug(ticket))).to.equal(undefined);
    expect(new TicketSealer(undefined).open(sealer.slug(ticket))).to.equal(undefined); // per-replica key
    const sealed = Buffer.from(sealer.slug(ticket).slice(2), "base64url");
    sealed[20] ^= 1;
    expect(sealer.open(`e.${sealed.toString("base64url")}`)).to.equal(undefined);
    expect(sealer.open("e.not-sealed")).to.equal(undefined);
    expect(() => new TicketSealer("short")).to.throw(/XTRINODE_GATEWAY_TICKET_KEY: must be at least 32 characters/);
  });

  it("sees a nextUri key wherever chunk boundaries split the body, and none that is absent", () => {
    const body = Buffer.from('{"id":"q","infoUri":"http://gw/ui","nextUri":"http://gw/v1/statement/executing/q/s/2","data":[[1]]}');
    for (let split = 0; split <= body.length; split++) {
      const scanner = nextUriScanner();
      scanner.push(body.subarray(0, split));
      scanner.push(body.subarray(split));
      expect(scanner.seen, `split at ${split}`).to.equal(true);
    }
    const finished = nextUriScanner();
    for (let i = 0; i < 40; i++) finished.push(Buffer.from('{"id":"q","stats":{"state":"FINISHED"},"nextUr'.slice(i % 5)));
    expect(finished.seen).to.equal(false);
  });

  it("finds nextUri in a gzipped poll (real Trino gzips for clients that accept gzip) and reports a gzipped last page as finished", async () => {
    const verdict = (body: string, encoding: string | undefined, chunk = 7) =>
      new Promise<boolean>((resolve) => {
        const bytes = encoding === "gzip" ? gzipSync(body) : Buffer.from(body);
        const scanner = bodyScanner(encoding);
        for (let offset = 0; offset < bytes.length; offset += chunk) scanner.push(bytes.subarray(offset, offset + chunk));
        scanner.end(resolve);
      });
    const running = '{"id":"q","nextUri":"http://gw/v1/statement/executing/q/s/2","data":[[1]]}';
    const finished = `{"id":"q","stats":{"state":"FINISHED"},"data":[${"[1],".repeat(5000)}[1]]}`;
    expect(await verdict(running, "gzip")).to.equal(true);
    expect(await verdict(finished, "gzip")).to.equal(false);
    expect(await verdict(running, undefined)).to.equal(true);
    expect(await verdict(finished, undefined)).to.equal(false);
    expect(await verdict(running, "zstd")).to.equal(true); // cannot decode: counted as running, never finished on a guess
  });
});
