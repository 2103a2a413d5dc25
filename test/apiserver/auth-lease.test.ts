// Unit tests of the pure parts: lease judgement, token file / authz config parsing, authorisation,
// TokenReview caching and name validation.
import { expect } from "chai";
import {
  bearerToken,
  isAllowed,
  parseAuthzConfig,
  isAllowedEverywhere,
  parseTokenFile,
  tokenReviewAuthenticator,
  ConfigError,
  type Identity,
} from "../../apiserver/auth.ts";
import { ApiError } from "../../apiserver/errors.ts";
import { acquiredRecord, formatMicroTime, judgeLease, observeLease } from "../../lib/lease.ts";
import { checkDns1123Label, resumeLeaseName } from "../../apiserver/names.ts";

describe("apiserver resume lease judgement", () => {
  const t0 = Date.parse("2026-01-01T12:00:00.123Z");

  it("formats MicroTime with six fractional digits", () => {
    expect(formatMicroTime(t0)).to.equal("2026-01-01T12:00:00.123000Z");
  });

  it("judges expiry from when this process first observed the record, not the writer's renewTime", () => {
    // The writer's clock is an hour behind: renewTime alone would make the lease look long expired.
    const live = { holderIdentity: "other", leaseDurationSeconds: 15, renewTime: "2026-01-01T11:00:00.000000Z", resourceVersion: "7" };
    const first = observeLease(live, undefined, t0, 30);
    expect(first.durationMs).to.equal(15_000);
    expect(judgeLease(first, t0 + 14_999)).to.deep.equal({ kind: "held", holderIdentity: "other", expiresAtMs: t0 + 15_000 });
    const again = observeLease(live, first, t0 + 10_000, 30);
    expect(again.observedAtMs).to.equal(t0); // unchanged record keeps its first observation
    expect(judgeLease(again, t0 + 15_000)).to.deep.equal({ kind: "acquirable" });
    const renewed = observeLease({ ...live, renewTime: "2026-01-01T11:00:10.000000Z" }, again, t0 + 14_000, 30);
    expect(judgeLease(renewed, t0 + 20_000).kind).to.equal("held"); // a renewal restarts the clock
  });

  it("reports a lease without holder as acquirable and our own unexpired lease as held (the caller decides)", () => {
    const released = observeLease({ holderIdentity: "", leaseDurationSeconds: 30 }, undefined, t0, 30);
    expect(judgeLease(released, t0).kind).to.equal("acquirable");
    const mine = observeLease({ holderIdentity: "me", leaseDurationSeconds: 30 }, undefined, t0, 30);
    expect(judgeLease(mine, t0)).to.deep.equal({ kind: "held", holderIdentity: "me", expiresAtMs: t0 + 30_000 });
  });

  it("counts holder changes in leaseTransitions and keeps the fetched resourceVersion for the update", () => {
    expect(acquiredRecord(undefined, "me", 30, t0)).to.deep.equal({
      holderIdentity: "me",
      leaseDurationSeconds: 30,
      acquireTime: "2026-01-01T12:00:00.123000Z",
      renewTime: "2026-01-01T12:00:00.123000Z",
      leaseTransitions: 0,
    });
    const taken = acquiredRecord({ holderIdentity: "other", leaseTransitions: 2, resourceVersion: "41" }, "me", 30, t0);
    expect(taken).to.include({ leaseTransitions: 3, resourceVersion: "41" });
    expect(acquiredRecord({ holderIdentity: "me", leaseTransitions: 2, resourceVersion: "41" }, "me", 30, t0).leaseTransitions).to.equal(2);
  });
});

describe("apiserver authentication and authorisation", () => {
  it("parses a kube-apiserver style token file", () => {
    const tokens = parseTokenFile(
      '# comment\n\ngw-token,system:serviceaccount:xtrinode-gateway:xtrinode-gateway,uid-1\nadmin-token,alice,uid-2,"xtrinode-admins,devs"\n',
      "tokens.csv",
    );
    expect(tokens.get("gw-token")).to.deep.equal({ username: "system:serviceaccount:xtrinode-gateway:xtrinode-gateway", groups: [] });
    expect(tokens.get("admin-token")).to.deep.equal({ username: "alice", groups: ["xtrinode-admins", "devs"] });
  });

  it("names the file and line of a bad token file entry", () => {
    expect(() => parseTokenFile("ok,alice\nlonely\n", "tokens.csv")).to.throw(ConfigError, /tokens\.csv:2: expected token,user/);
    expect(() => parseTokenFile("t,alice\nt,bob\n", "tokens.csv")).to.throw(ConfigError, /tokens\.csv:2: duplicate token/);
  });

  it("parses the authorisation config and rejects unknown actions and bad lists", () => {
    const config = parseAuthzConfig(
      "resume: [system:serviceaccount:gw:gw, group:xtrinode-admins]\nsuspend: [group:xtrinode-admins]\n",
      "authz.yaml",
    );
    expect(config).to.deep.equal({
      resume: ["system:serviceaccount:gw:gw", "group:xtrinode-admins"],
      suspend: ["group:xtrinode-admins"],
      activity: [],
      read: [],
    });
    expect(() => parseAuthzConfig("resmue: [a]", "authz.yaml")).to.throw(ConfigError, /authz\.yaml: unknown action "resmue"/);
    expect(() => parseAuthzConfig("resume: a", "authz.yaml")).to.throw(ConfigError, /resume must be a list/);
    expect(() => parseAuthzConfig("- a", "authz.yaml")).to.throw(ConfigError, /expected a mapping/);
    const scoped = parseAuthzConfig("suspend: [group:xtrinode-admins, {identity: 'group:team-a', namespaces: [team-a]}]\n", "authz.yaml");
    expect(scoped.suspend).to.deep.equal(["group:xtrinode-admins", { identity: "group:team-a", namespaces: ["team-a"] }]);
    expect(() => parseAuthzConfig("suspend: [{identity: bob}]", "authz.yaml")).to.throw(
      ConfigError,
      /authz\.yaml: suspend\[0\]\.namespaces: expected a non-empty list/,
    );
    expect(() => parseAuthzConfig("suspend: [{identity: bob, namespaces: [Team_A]}]", "authz.yaml")).to.throw(ConfigError, /namespaces/);
    expect(() => parseAuthzConfig("suspend: [{who: bob}]", "authz.yaml")).to.throw(ConfigError, /unknown key "who"/);
  });

  it("limits a namespaced entry to its namespaces", () => {
    const config = parseAuthzConfig("suspend: [group:admins, {identity: 'group:team-a', namespaces: [team-a, team-a2]}]\n", "authz.yaml");
    const teamA: Identity = { username: "carol", groups: ["team-a"] };
    const admin: Identity = { username: "alice", groups: ["admins"] };
    expect(["team-a", "team-a2", "team-b"].map((ns) => isAllowed(config, "suspend", teamA, ns))).to.deep.equal([true, true, false]);
    expect(isAllowed(config, "suspend", teamA)).to.equal(true); // somewhere
    expect(isAllowedEverywhere(config, "suspend", teamA)).to.equal(false);
    expect(isAllowedEverywhere(config, "suspend", admin)).to.equal(true);
    expect(isAllowed(config, "suspend", admin, "team-b")).to.equal(true);
  });

  it("matches users, groups and *", () => {
    const config = parseAuthzConfig("resume: [bob, group:admins]\nread: ['*']\n", "authz.yaml");
    const alice: Identity = { username: "alice", groups: ["admins"] };
    const bob: Identity = { username: "bob", groups: [] };
    const eve: Identity = { username: "eve", groups: ["bob"] };
    expect([alice, bob, eve].map((who) => isAllowed(config, "resume", who))).to.deep.equal([true, true, false]);
    expect(isAllowed(config, "read", eve)).to.equal(true);
    expect(isAllowed(config, "suspend", alice)).to.equal(false);
  });

  it("requires a bearer token", () => {
    expect(bearerToken("Bearer abc")).to.equal("abc");
    for (const header of [undefined, "", "Basic abc", "Bearer"]) {
      expect(() => bearerToken(header)).to.throw(ApiError, /missing bearer token/);
    }
  });

  it("caches TokenReview answers briefly and sends one review for a burst with one token", async () => {
    const clock = { now: 0 };
    const reviewed: string[] = [];
    const authenticate = tokenReviewAuthenticator(
      async (token) => {
        reviewed.push(token);
        await new Promise((resolve) => setTimeout(resolve, 5));
        return token === "good" ? { username: "gw", groups: ["g"] } : undefined;
      },
      { ttlMs: 10_000, negativeTtlMs: 2_000, now: () => clock.now },
    );
    const burst = await Promise.all(Array.from({ length: 50 }, () => authenticate("good")));
    expect(burst.every((identity) => identity.username === "gw")).to.equal(true);
    expect(reviewed).to.deep.equal(["good"]);
    clock.now = 9_999;
    await authenticate("good");
    expect(reviewed.length).to.equal(1);
    clock.now = 10_000;
    await authenticate("good");
    expect(reviewed.length).to.equal(2);

    const failure = await authenticate("bad").catch((error: ApiError) => error);
    expect(failure).to.be.instanceOf(ApiError).with.property("status", 401);
    await authenticate("bad").catch(() => undefined);
    expect(reviewed.filter((t) => t === "bad").length).to.equal(1);
  });

  it("rate-limits reviews of unknown tokens, and junk tokens never evict an accepted one", async () => {
    const clock = { now: 0 };
    let reviews = 0;
    const authenticate = tokenReviewAuthenticator(
      async (token) => {
        reviews++;
        return token === "good" ? { username: "gw", groups: [] } : undefined;
      },
      { reviewsPerSecond: 10, now: () => clock.now },
    );
    await authenticate("good");
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => authenticate(`junk-${i}`).catch((error: ApiError) => error.status)),
    );
    expect(reviews).to.equal(1 + 9); // the burst allowance (10), one spent on "good"
    expect(answers.filter((status) => status === 503).length).to.equal(291);
    expect(answers.filter((status) => status === 401).length).to.equal(9);
    expect((await authenticate("good")).username).to.equal("gw"); // still cached: no review needed
    expect(reviews).to.equal(10);
    clock.now = 1_000; // the allowance refills
    await authenticate("junk-x").catch(() => undefined);
    expect(reviews).to.equal(11);
  });
});

describe("apiserver names", () => {
  it("accepts DNS-1123 labels and names the rule for anything else", () => {
    expect(checkDns1123Label("name", "sales-1")).to.equal("sales-1");
    for (const bad of ["Sales", "-sales", "sales-", "sa_les", "", "a".repeat(64)]) {
      expect(() => checkDns1123Label("name", bad)).to.throw(ApiError, /not a valid DNS-1123 label/);
    }
    expect(resumeLeaseName("team-a", "sales")).to.equal("xtrinode-resume.team-a.sales");
  });
});
