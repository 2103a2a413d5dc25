// LoginThrottle (pure, virtual clock): free failures, attempts in progress counted, doubling
// back-off with a cap, forgetting after a quiet period, addresses trusted for a user, and cached
// logins past a backing-off address.
import { expect } from "chai";
import { LoginThrottle } from "../../gateway/login-throttle.ts";

const settings = { freeFailures: 3, backoffBaseMs: 1000, backoffMaxMs: 8000 };

/** Fails one allowed attempt at `nowMs`. */
function fail(throttle: LoginThrottle, user: string, address: string, nowMs: number): void {
  const decision = throttle.check(user, address, false, nowMs);
  if (!decision.allowed) throw new Error(`expected an allowed attempt for ${user} from ${address}`);
  decision.release(true, nowMs);
}

describe("gateway login throttle", () => {
  it("lets only freeFailures concurrent attempts of one address run (the rest back off at once)", () => {
    const throttle = new LoginThrottle(settings);
    const now = Date.now();
    const decisions = Array.from({ length: 20 }, (_, i) => throttle.check(`user-${i}`, "10.0.0.1", false, now));
    expect(decisions.filter((decision) => decision.allowed)).to.have.length(3);
    expect(
      decisions.filter((decision) => !decision.allowed).every((decision) => !decision.allowed && decision.scope === "address"),
    ).to.equal(true);
  });

  it("doubles the back-off with each failure past the free ones, up to backoffMaxMs", () => {
    const throttle = new LoginThrottle(settings);
    let now = 1_000_000;
    for (let i = 0; i < 3; i++) fail(throttle, `u${i}`, "10.0.0.2", now);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const refused = throttle.check("v", "10.0.0.2", false, now);
      if (refused.allowed) throw new Error("expected a refusal");
      waits.push(refused.retryAfterMs);
      now += refused.retryAfterMs; // wait it out, then fail once more
      fail(throttle, `w${i}`, "10.0.0.2", now);
    }
    expect(waits).to.deep.equal([1000, 2000, 4000, 8000, 8000]);
  });

  it("forgets an address's failures after backoffMaxMs without a new one", () => {
    const throttle = new LoginThrottle(settings);
    const start = Date.now();
    for (let i = 0; i < 3; i++) fail(throttle, `u${i}`, "10.0.0.3", start);
    expect(throttle.check("x", "10.0.0.3", false, start + 10).allowed).to.equal(false);
    expect(throttle.check("x", "10.0.0.3", false, start + 9000).allowed).to.equal(true);
  });

  it("backs off a user name across addresses, except from an address that user logged in from", () => {
    const throttle = new LoginThrottle(settings);
    throttle.succeeded("alice", "10.0.1.1");
    for (let i = 0; i < 3; i++) fail(throttle, "alice", `10.0.2.${i}`, Date.now());
    const refused = throttle.check("alice", "10.0.3.1", false, Date.now());
    expect(refused.allowed === false && refused.scope).to.equal("user");
    expect(throttle.check("alice", "10.0.1.1", false, Date.now()).allowed).to.equal(true);
  });

  it("lets cached logins through a backing-off address, but counts guesses refused there against the user and the pair", () => {
    const throttle = new LoginThrottle(settings);
    const now = 5_000_000;
    for (let i = 0; i < 3; i++) fail(throttle, `u${i}`, "10.0.4.1", now);
    // Someone else behind the same address keeps polling with verified credentials.
    expect(throttle.check("carol", "10.0.4.1", true, now + 1).allowed).to.equal(true);
    // Guesses at dave from there are refused without a check, and run out: dave's pair then refuses even a cached login.
    for (let i = 0; i < 3; i++) {
      const refused = throttle.check("dave", "10.0.4.1", false, now + 2);
      expect(refused.allowed === false && refused.scope).to.equal("address");
    }
    const pair = throttle.check("dave", "10.0.4.1", true, now + 3);
    expect(pair.allowed === false && pair.scope).to.equal("user");
    // dave's name backs off elsewhere too (an untrusted address), cached or not.
    expect(throttle.check("dave", "10.0.5.1", true, now + 3).allowed).to.equal(false);
  });
});
