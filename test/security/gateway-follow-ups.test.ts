// Adversarial suite for the gateway's follow-up path (issue 13, items 2, 3, 5, 7, 9, 10, 11; the
// absolute-form cancel of issue 15): real `xtrinode gateway` processes in front of Trino protocol
// test servers, attacked the way the findings did — raw HTTP request targets, other users'
// follow-ups, junk follow-ups against the breaker and the owner lookup, identity headers, links
// from the gateway's own address. Loopback only; every loop is bounded in count.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import bcrypt from "bcryptjs";
import yaml from "js-yaml";
import type { QueryResult } from "trino-client";
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/index.ts";
import { killAllChildren, spawnGateway, type ChildUnderTest } from "../support/process.ts";
import { createRng, testSeed } from "../support/rng.ts";
import { basicAuth, loopbackRequest, type LoopbackAnswer } from "./loopback-client.ts";
import { RoutesFile } from "../gateway/support/harness.ts";
import { eventually } from "../support/eventually.ts";
import { metricValue, scrapeMetrics } from "../support/metrics-text.ts";

interface RawAnswer extends LoopbackAnswer {
  json(): QueryResult & Record<string, unknown>;
}

/** One HTTP request with the request target exactly as given (fetch would resolve dot-segments). */
async function rawRequest(
  base: string,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawAnswer> {
  const answer = await loopbackRequest(base, {
    method,
    target,
    headers: { ...headers, ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}) },
    body,
  });
  return { ...answer, json: () => JSON.parse(answer.text) as QueryResult & Record<string, unknown> };
}

const password = "pw-of-the-test";
const as = (user: string, extra: Record<string, string> = {}) => ({ authorization: basicAuth(user, password), ...extra });
const pathOf = (uri: string) => new URL(uri).pathname;

/** Refused: 403/404, or (a GET poll) a FAILED QueryResults saying access denied or not found. */
function expectRefused(answer: RawAnswer, what: string): void {
  if (answer.status === 403 || answer.status === 404) return;
  expect(answer.status, `${what}: ${answer.text}`).to.equal(200);
  expect(answer.json().error?.errorName, `${what}: ${answer.text}`).to.be.oneOf(["XTRINODE_ACCESS_DENIED", "XTRINODE_QUERY_NOT_FOUND"]);
}

describe("security: gateway follow-ups, paths, breakers, identity headers (real gateway processes)", function () {
  this.timeout(60_000);
  let dir: string;
  let routes: RoutesFile;
  let a: TrinoTestServer; // team-a/analytics
  let b: TrinoTestServer; // team-b/etl
  let c: TrinoTestServer; // team-c/spare (breaker tests)
  let s: TrinoTestServer; // team-a/sleepy (paused; held statements)
  let secured: ChildUnderTest; // authentication on
  let replica: ChildUnderTest; // authentication on, same config and ticket key, sees no POST of the tests
  let open: ChildUnderTest; // authentication off
  const url = (gateway: ChildUnderTest) => String(gateway.ready.url);
  const ticketKey = "a-shared-ticket-key-of-at-least-32-characters!";

  function routeList(sleepy: RouteEntry["state"]): RouteEntry[] {
    return [
      { namespace: "team-a", name: "analytics", backend: a.url, state: "RUNNING" },
      { namespace: "team-b", name: "etl", backend: b.url, state: "RUNNING" },
      { namespace: "team-c", name: "spare", backend: c.url, state: "RUNNING" },
      { namespace: "team-a", name: "sleepy", backend: s.url, state: sleepy },
    ];
  }

  async function startGateway(config: Record<string, unknown>): Promise<ChildUnderTest> {
    const file = path.join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml.dump(config));
    return spawnGateway(
      { routesFile: routes.file, configFile: file, workers: 1 },
      { env: { XTRINODE_GATEWAY_TICKET_KEY: ticketKey, XTRINODE_LOG_LEVEL: "info" }, timeoutMs: 60_000 },
    ); // three start at once: slow on a loaded machine
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "xtrinode-security-"));
    [a, b, c, s] = await Promise.all([0, 1, 2, 3].map(() => startTrinoTestServer({ rowsPerPage: 2 })));
    routes = new RoutesFile();
    routes.write(routeList("PAUSED"));
    const hash = bcrypt.hashSync(password, 4);
    const passwordFile = path.join(dir, "password.db");
    writeFileSync(passwordFile, ["alice", "bob", "carol", "root"].map((user) => `${user}:${hash}`).join("\n") + "\n");
    const health = { intervalMs: 500, timeoutMs: 1000, failureThreshold: 3, ejectionBaseMs: 60_000, ejectionMaxMs: 60_000 };
    const auth = {
      passwordFile,
      groups: { admins: ["root"] },
      queryAdminGroups: ["admins"],
      impersonation: { alice: ["svc-report"] },
      authorization: [
        { runtime: "team-a/*", users: ["alice", "carol"], groups: ["admins"] },
        { runtime: "team-b/*", users: ["bob"], groups: ["admins"] },
        { runtime: "team-c/*", users: ["alice", "bob", "carol"], groups: ["admins"] },
      ],
    };
    [secured, replica, open] = await Promise.all([
      startGateway({ auth, health }),
      startGateway({ auth, health }),
      startGateway({ health, sticky: { lookupsPerSecond: 0.01, lookupBurst: 5 } }),
    ]);
  });
  after(async () => {
    await killAllChildren();
    await Promise.all([a, b, c, s].map((server) => server?.close()));
    routes?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A statement that stays alive (nobody polls it past QUEUED) on a runtime, as a user. */
  async function startQuery(
    gateway: ChildUnderTest,
    runtime: string,
    headers: Record<string, string>,
    sql = "SELECT sleep_ms(60000)",
  ): Promise<QueryResult & { partialCancelUri?: string }> {
    const answer = await rawRequest(url(gateway), "POST", "/v1/statement", { "x-trino-xtrinode": runtime, ...headers }, sql);
    expect(answer.status, answer.text).to.equal(200);
    const result = answer.json();
    expect(result.error, result.error?.message).to.equal(undefined);
    return result;
  }

  /** The first poll of a query's queued nextUri, as every client makes at once: only then is it a query Trino's /v1/query knows. */
  async function firstPoll(gateway: ChildUnderTest, query: QueryResult, headers: Record<string, string>): Promise<void> {
    const polled = await rawRequest(url(gateway), "GET", pathOf(query.nextUri!), headers);
    expect(polled.status, polled.text).to.equal(200);
  }

  describe("item 3: request targets are checked and made canonical before routing", () => {
    // Each attack path with the status the gateway must answer. <id> is a live team-a query of alice.
    const attacks: Array<[method: string, target: string, status: number]> = [
      ["POST", "/v1/statement/executing/<id>/x/../../../../../v1/statement", 400],
      ["POST", "/v1/statement/executing/<id>/x/../../../../v1/statement", 400],
      ["POST", "/v1/statement/queued/<id>/<slug>/1/../../../../../v1/statement", 400],
      ["GET", "/v1/statement/executing/<id>/%2e%2e/%2e%2e/1", 400],
      ["GET", "/v1/statement/executing/<id>/%2E%2E/1", 400],
      ["GET", "/v1/statement/executing/<id>/a%2fb/1", 400],
      ["GET", "/v1/statement/executing/<id>/a%5cb/1", 400],
      ["GET", "/v1/statement/executing/<id>/a\\..\\..\\v1\\info/1", 400],
      ["GET", "/v1/query/<id>/../../info", 400],
      ["GET", "/v1/query/<id>/./", 400],
      ["GET", "//v1/query/<id>", 400],
      ["GET", "/v1/query/%32%30<id>", 400],
      ["GET", "/v1/statement/queued/<id>/<slug>/1/extra", 404],
      ["GET", "/v1/nodes", 404],
      ["GET", "/v1/query/not-a-query-id", 404],
      ["PUT", "/v1/info/state", 405],
      ["POST", "/v1/statement/executing/<id>/<slug>/1", 405],
      ["DELETE", "http://127.0.0.1:1/v1/statement/executing/<id>/../../../../v1/info", 400],
      ["GET", "*", 400],
    ];

    for (const [name, gatewayOf, headers] of [
      ["authentication on", () => secured, as("bob")],
      ["authentication off (the follow-up fast lane)", () => open, { "x-trino-user": "bob" }],
    ] as const) {
      it(`refuses every attack path with a Trino error and forwards none of them (${name})`, async () => {
        const gateway = gatewayOf();
        const victim = await startQuery(gateway, "team-a/analytics", gateway === open ? { "x-trino-user": "alice" } : as("alice"));
        const [, , , , id, slug] = pathOf(victim.nextUri!).split("/");
        const before = { ...a.stats };
        for (const [method, template, status] of attacks) {
          const target = template.replaceAll("<id>", id).replaceAll("<slug>", slug);
          const answer = await rawRequest(url(gateway), method, target, headers, method === "POST" ? "SELECT 1" : undefined);
          expect(answer.status, `${method} ${target}: ${answer.text}`).to.equal(status);
          expect(answer.json().error?.errorName, `${method} ${target}`).to.equal("XTRINODE_INVALID_REQUEST");
        }
        expect(a.stats.statements - before.statements, "statements that reached the backend").to.equal(0);
        expect(a.stats.dotSegmentPaths - before.dotSegmentPaths, "dot-segment paths that reached the backend").to.equal(0);
        expect(
          a.stats.requests - before.requests - (a.stats.infoRequests - before.infoRequests),
          "requests other than health probes",
        ).to.equal(0);
        expect(a.query(victim.id)?.canceled).to.equal(false);
      });
    }

    it("fuzz: 200 mutated follow-up targets from another tenant reach nothing past the gateway's check (seeded, bounded)", async () => {
      const rng = createRng(testSeed("gateway path fuzz"));
      const victim = await startQuery(secured, "team-a/analytics", as("alice"));
      const segments = pathOf(victim.nextUri!).split("/").slice(1);
      const poison = ["..", ".", "%2e%2e", "%2E.", ".%2e", "%2e", "a%2fb", "a%5cb", "a\\b", "", "..;", "%252e%252e"];
      const tails = ["v1/statement", "v1/query", "v1/info/state", "ui", "v1/statement/executing/partialCancel"];
      const before = { ...a.stats };
      for (let i = 0; i < 200; i++) {
        const path = [...segments];
        const edits = rng.int(1, 3);
        for (let e = 0; e < edits; e++) path.splice(rng.int(0, path.length), 0, rng.pick(poison));
        if (rng.chance(0.5)) path.push(...rng.pick(tails).split("/"));
        let target = `/${path.join("/")}`;
        if (rng.chance(0.2)) target = `http://127.0.0.1:1${target}`;
        const method = rng.pick(["GET", "POST", "DELETE", "PUT", "HEAD"]);
        const answer = await rawRequest(
          url(secured),
          method,
          target,
          as("bob"),
          method === "POST" || method === "PUT" ? "SELECT 1" : undefined,
        );
        expect(answer.status, `${method} ${target}`).to.be.within(400, 499);
      }
      expect(a.stats.statements - before.statements, "statements on team-a's coordinator").to.equal(0);
      expect(a.stats.dotSegmentPaths - before.dotSegmentPaths).to.equal(0);
      expect(a.stats.absoluteFormTargets - before.absoluteFormTargets).to.equal(0);
      expect(a.query(victim.id)?.canceled).to.equal(false);
      expect((await fetch(`${url(secured)}/healthz`)).status).to.equal(200);
    });

    it("refuses a follow-up that carries a body (a slow body would tie the backend up)", async () => {
      const victim = await startQuery(open, "team-a/analytics", { "x-trino-user": "alice" });
      const answer = await rawRequest(url(open), "DELETE", pathOf(victim.nextUri!), { "x-trino-user": "alice" }, "x");
      expect(answer.status).to.equal(400);
      expect(answer.json().error?.message).to.contain("follow-up has none");
      expect(a.query(victim.id)?.canceled).to.equal(false);
    });

    for (const [name, gatewayOf, headers] of [
      ["authentication off", () => open, { "x-trino-user": "alice" }],
      ["authentication on", () => secured, as("alice")],
    ] as const) {
      it(`forwards presto-client's absolute-form cancel as origin-form, and the cancel arrives (${name})`, async () => {
        const gateway = gatewayOf();
        const victim = await startQuery(gateway, "team-a/analytics", headers);
        const before = a.stats.absoluteFormTargets;
        const answer = await rawRequest(url(gateway), "DELETE", `${url(gateway)}${pathOf(victim.nextUri!)}`, headers);
        expect(answer.status, answer.text).to.equal(204);
        expect(a.query(victim.id)?.canceled, "the cancel reached the coordinator").to.equal(true);
        expect(a.stats.absoluteFormTargets - before, "absolute-form targets forwarded").to.equal(0);
      });
    }
  });

  describe("item 2: follow-ups are authorised for the owning runtime and the query's own user", () => {
    it("a user of another runtime can neither read, poll nor cancel a query, nor reach its runtime through it", async () => {
      const victim = await startQuery(secured, "team-a/analytics", as("alice"), "SELECT sleep_ms(60000) -- alice's secret");
      for (const [method, target] of [
        ["GET", `/v1/query/${victim.id}`],
        ["HEAD", `/v1/query/${victim.id}`],
        ["DELETE", `/v1/query/${victim.id}`],
        ["GET", pathOf(victim.nextUri!)],
        ["DELETE", pathOf(victim.nextUri!)],
      ]) {
        for (const gateway of [secured, replica]) {
          const answer = await rawRequest(url(gateway), method, target, as("bob"));
          expectRefused(answer, `${method} ${target}`);
          expect(answer.text).to.not.contain("alice's secret");
        }
      }
      expect(a.query(victim.id)?.canceled).to.equal(false);
    });

    it("another user of the same runtime can neither read nor cancel the query (on the replica that saw it, and on one that did not)", async () => {
      const victim = await startQuery(secured, "team-a/analytics", as("alice"), "SELECT sleep_ms(60000) -- alice's secret");
      await firstPoll(secured, victim, as("alice"));
      for (const gateway of [secured, replica]) {
        for (const [method, target] of [
          ["GET", `/v1/query/${victim.id}`],
          ["DELETE", `/v1/query/${victim.id}`],
          ["GET", pathOf(victim.nextUri!)],
          ["DELETE", pathOf(victim.nextUri!)],
        ]) {
          const answer = await rawRequest(url(gateway), method, target, as("carol"));
          expect(
            answer.status,
            `${method} ${target} on ${gateway === secured ? "the replica that saw it" : "another replica"}: ${answer.text}`,
          ).to.equal(403);
          expect(answer.text).to.not.contain("alice's secret");
        }
      }
      expect(a.query(victim.id)?.canceled).to.equal(false);
      // The owner herself, on either replica; an admin too.
      const own = await rawRequest(url(replica), "GET", `/v1/query/${victim.id}`, as("alice"));
      expect(own.status, own.text).to.equal(200);
      expect(own.text).to.contain("alice's secret");
      const admin = await rawRequest(url(replica), "GET", `/v1/query/${victim.id}`, as("root"));
      expect(admin.status, admin.text).to.equal(200);
      const cancel = await rawRequest(url(replica), "DELETE", `/v1/query/${victim.id}`, as("alice"));
      expect(cancel.status).to.equal(204);
      expect(a.query(victim.id)?.canceled, JSON.stringify(a.query(victim.id))).to.equal(true);
    });

    it("lets a principal follow up a query it ran as an impersonated user, polls without X-Trino-User included; nobody else", async () => {
      const victim = await startQuery(secured, "team-a/analytics", as("alice", { "x-trino-user": "svc-report" }), "SELECT sleep_ms(60000)");
      await firstPoll(secured, victim, as("alice", { "x-trino-user": "svc-report" }));
      for (const gateway of [secured, replica]) {
        expect((await rawRequest(url(gateway), "GET", `/v1/query/${victim.id}`, as("carol", { "x-trino-user": "carol" }))).status).to.equal(
          403,
        );
        expect((await rawRequest(url(gateway), "GET", `/v1/query/${victim.id}`, as("alice"))).status).to.equal(200);
      }
      expect((await rawRequest(url(replica), "DELETE", pathOf(victim.nextUri!), as("alice"))).status).to.equal(204);
      expect(a.query(victim.id)?.canceled).to.equal(true);
    });

    it("refuses another user's partialCancel and lets the owner's through", async () => {
      let page: QueryResult & { partialCancelUri?: string } = await startQuery(
        secured,
        "team-a/analytics",
        as("alice"),
        "SELECT n FROM xt_rows(20)",
      );
      while (!page.partialCancelUri && page.nextUri)
        page = (await rawRequest(url(secured), "GET", pathOf(page.nextUri), as("alice"))).json();
      const partial = pathOf(page.partialCancelUri!);
      const before = a.stats.partialCancels;
      expect((await rawRequest(url(secured), "DELETE", partial, as("carol"))).status).to.equal(403);
      expect((await rawRequest(url(replica), "DELETE", partial, as("carol"))).status).to.equal(403);
      expect(a.stats.partialCancels).to.equal(before);
      expect((await rawRequest(url(secured), "DELETE", partial, as("alice"))).status).to.equal(204);
      expect(a.stats.partialCancels).to.equal(before + 1);
      await rawRequest(url(secured), "DELETE", pathOf(page.nextUri!), as("alice"));
    });

    it("lists queries and serves the web UI to admins only", async () => {
      expect((await rawRequest(url(secured), "GET", "/v1/query", as("alice", { "x-trino-xtrinode": "team-a/analytics" }))).status).to.equal(
        403,
      );
      expect((await rawRequest(url(secured), "GET", "/ui/", as("alice", { "x-trino-xtrinode": "team-a/analytics" }))).status).to.equal(403);
      const listed = await rawRequest(url(secured), "GET", "/v1/query", as("root", { "x-trino-xtrinode": "team-a/analytics" }));
      expect(listed.status).to.not.equal(403);
    });
  });

  describe("item 7: identity headers besides X-Trino-User", () => {
    it("refuses X-Trino-Original-User naming someone else, X-Trino-Original-Roles and X-Presto-User spoofing", async () => {
      const before = a.stats.statements;
      const spoofs: Array<Record<string, string>> = [
        { "x-trino-original-user": "bob" },
        { "x-trino-original-roles": "system=ROLE{admin}" },
        { "x-presto-user": "bob" },
        { "x-presto-original-user": "bob" },
      ];
      for (const spoof of spoofs) {
        const answer = await rawRequest(
          url(secured),
          "POST",
          "/v1/statement",
          as("alice", { "x-trino-xtrinode": "team-a/analytics", ...spoof }),
          "SELECT 1",
        );
        expect(answer.status, JSON.stringify(spoof)).to.equal(403);
        expect(answer.json().error?.errorName).to.equal("XTRINODE_ACCESS_DENIED");
        expect(answer.json().error?.message).to.contain(Object.keys(spoof)[0]);
      }
      expect(a.stats.statements).to.equal(before);
      // Naming oneself is the truth and passes.
      const honest = await startQuery(secured, "team-a/analytics", as("alice", { "x-trino-original-user": "alice" }), "SELECT 1");
      expect(a.query(honest.id)?.headers["x-trino-original-user"]).to.equal("alice");
      expect(a.queryIds().every((id) => a.query(id)?.headers["x-trino-original-user"] !== "bob")).to.equal(true);
    });
  });

  describe("item 5: junk follow-ups cannot eject a backend", () => {
    const breakerOf = async (gateway: ChildUnderTest, backend: TrinoTestServer) => {
      return metricValue(await scrapeMetrics(url(gateway)), "xtrinode_gateway_backend_breaker_state", { backend: backend.url });
    };

    it("answers that make the backend say 500 or 404 leave its breaker closed; 503s still open it", async () => {
      const query = await startQuery(secured, "team-c/spare", as("alice"), "SELECT n FROM xt_rows(4)");
      c.setFault({ status: 500, count: 6, pathPrefix: "/v1/statement/" });
      for (let i = 0; i < 6; i++) expect((await rawRequest(url(secured), "GET", pathOf(query.nextUri!), as("alice"))).status).to.equal(500);
      expect(await breakerOf(secured, c), "breaker after six 500s (0 closed)").to.equal(0);
      const fresh = await startQuery(secured, "team-c/spare", as("bob"), "SELECT 1");
      expect(fresh.id.endsWith(c.coordinatorId), "a new query of another user still reaches the backend").to.equal(true);
      for (let i = 0; i < 6; i++) {
        const junk = pathOf(query.nextUri!).replace(/\/[^/]+\/\d+$/, `/not-the-slug/${i}`);
        expect((await rawRequest(url(secured), "GET", junk, as("alice"))).status).to.equal(404);
      }
      expect(await breakerOf(secured, c), "breaker after six 404s (0 closed)").to.equal(0);
      // The breaker still does its job on answers that say the backend is unhealthy.
      c.setFault({ status: 503, count: 3, pathPrefix: "/v1/statement/" });
      for (let i = 0; i < 3; i++) await rawRequest(url(secured), "GET", pathOf(query.nextUri!), as("alice"));
      expect(await breakerOf(secured, c), "breaker (2 open)").to.equal(2);
      c.clearFaults();
    });
  });

  describe("item 9: junk follow-ups cost bounded backend requests", () => {
    it("unknown coordinator ids are looked up at most once each, and a client's lookups are budgeted", async () => {
      const backends = [a, b, c, s];
      const lookups = () => backends.reduce((sum, backend) => sum + backend.stats.queryInfoRequests, 0);
      const before = lookups();
      // 40 distinct coordinator ids no backend has.
      const ids = Array.from({ length: 40 }, (_, i) => `20260101_000000_${String(i).padStart(5, "0")}_x${i.toString(36).padStart(4, "0")}`);
      let throttled = 0;
      for (let round = 0; round < 3; round++) {
        for (const id of ids) {
          const answer = await rawRequest(url(open), "GET", `/v1/statement/executing/${id}/slug/1`, { "x-trino-user": "mallory" });
          if (answer.status === 503) {
            throttled++;
            expect(answer.headers["retry-after"]).to.equal("1");
          } else expect(answer.json().error?.errorName).to.equal("XTRINODE_QUERY_NOT_FOUND");
        }
      }
      const cost = lookups() - before;
      console.log(
        `      120 junk follow-ups (40 unknown coordinator ids × 3) cost ${cost} backend requests over ${backends.length} backends; ${throttled} answered 503`,
      );
      // lookupBurst 5 (lookupsPerSecond 0.01): at most 5 lookups, each one HEAD per backend — not 40 ids × 3 rounds × 4 backends.
      expect(cost, "backend requests for 120 junk follow-ups").to.be.at.most(5 * backends.length);
      expect(throttled).to.be.at.least(100);
      // A query this gateway saw is still followed without any lookup.
      const own = await startQuery(open, "team-b/etl", { "x-trino-user": "alice" }, "SELECT 1");
      const poll = await rawRequest(url(open), "GET", pathOf(own.nextUri!), { "x-trino-user": "alice" });
      expect(poll.status).to.equal(200);
      expect(poll.json().error).to.equal(undefined);
    });

    it("with authentication on, only the backends of the principal's runtimes are asked", async () => {
      const before = { a: a.stats.queryInfoRequests, b: b.stats.queryInfoRequests };
      const answer = await rawRequest(url(replica), "GET", "/v1/statement/executing/20260101_000000_00001_zzzzz/slug/1", as("bob"));
      expect(answer.json().error?.errorName).to.equal("XTRINODE_QUERY_NOT_FOUND");
      expect(a.stats.queryInfoRequests - before.a, "team-a's coordinator, which bob may not use").to.equal(0);
      expect(b.stats.queryInfoRequests - before.b).to.equal(1);
    });
  });

  describe("item 10: the failed link shows only the gateway's text to anyone but its own client", () => {
    it("does not show a forged or another user's failure message from the gateway's address", async () => {
      const phishing = "Your password expired: call 555-0100 now";
      const forged = Buffer.from(JSON.stringify({ e: "XTRINODE_UNKNOWN_RUNTIME", m: phishing }), "utf8").toString("base64url");
      for (const target of [
        `/v1/statement/queued/20260101_000000_00001_gw000/failed/${forged}`,
        `/v1/statement/queued/20260101_000000_00001_gw000/failed/XTRINODE_UNKNOWN_RUNTIME~e.${forged}`,
      ]) {
        const answer = await rawRequest(url(open), "GET", target);
        expect(answer.text, target).to.not.contain("555-0100");
      }
      // A failure the gateway itself produced from a client's header text: shown to that client only.
      const failed = await startQuery(open, phishing.replaceAll(" ", "-"), { "x-trino-user": "mallory" }, "SELECT 1");
      const own = await rawRequest(url(open), "GET", pathOf(failed.nextUri!), { "x-trino-user": "mallory" });
      expect(own.json().error?.errorName).to.equal("XTRINODE_UNKNOWN_RUNTIME");
      expect(own.text).to.contain("555-0100");
      for (const headers of [{}, { "x-trino-user": "victim" }] as Array<Record<string, string>>) {
        const clicked = await rawRequest(url(open), "GET", pathOf(failed.nextUri!), headers);
        expect(clicked.json().error?.errorName).to.equal("XTRINODE_UNKNOWN_RUNTIME");
        expect(clicked.text).to.not.contain("555-0100");
      }
    });
  });

  describe("item 11: a held statement belongs to the principal that submitted it", () => {
    it("another user may not poll it while held, nor read its first page after the hand-over", async () => {
      const held = await startQuery(secured, "team-a/sleepy", as("alice"), "SELECT n FROM xt_rows(3)");
      expect(held.id.endsWith("gw000")).to.equal(true);
      const nextUri = pathOf(held.nextUri!);
      expect((await rawRequest(url(secured), "GET", nextUri, as("carol"))).status).to.equal(403);
      expect((await rawRequest(url(secured), "DELETE", nextUri, as("carol"))).status).to.equal(403);
      routes.write(routeList("RUNNING"));
      let first: QueryResult | undefined;
      await eventually(
        "the hand-over of the held statement",
        async () => {
          const answer = (await rawRequest(url(secured), "GET", nextUri, as("alice"))).json();
          if (!answer.id?.endsWith("gw000")) first = answer;
          return first;
        },
        20_000,
      );
      expect(first!.id.endsWith(s.coordinatorId)).to.equal(true);
      // The repeated hand-over poll answers the same first page — to alice only.
      const replay = await rawRequest(url(secured), "GET", nextUri, as("carol"));
      expect(replay.status, replay.text).to.equal(403);
      expect(replay.text).to.not.contain(first!.id);
      expect((await rawRequest(url(secured), "GET", nextUri, as("alice"))).json().id).to.equal(first!.id);
      routes.write(routeList("PAUSED"));
    });
  });
});
