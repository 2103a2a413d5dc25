// Back-off on failed password logins, per user name and per client address, so a password-guessing
// flood costs the gateway a handful of bcrypt checks per key instead of one per request.
// A key gets `freeFailures` failures (attempts in progress count against them, so 20 concurrent
// guesses cannot all slip through); then it is refused for backoffBaseMs, doubling with every
// further failure up to backoffMaxMs. Refused attempts run no check (see check() for which of them
// still count). Nothing is
// reset by a success (an attacker with one valid account must not clear its address's record);
// a key's failures are forgotten once it has been quiet for backoffMaxMs.
import { createHash } from "node:crypto";
import { BoundedMap } from "./bounded-map.ts";
import type { LoginThrottleSettings } from "./config.ts";

interface FailureRecord {
  failures: number;
  inProgress: number;
  blockedUntilMs: number;
  lastFailureMs: number;
}

export type ThrottleDecision =
  { allowed: true; release(failed: boolean, nowMs?: number): void } | { allowed: false; scope: "user" | "address"; retryAfterMs: number };

/** Keys remembered at most per scope (least recently used evicted). */
const maxTrackedKeys = 100_000;
/**
 * The key a user name is remembered under: a digest, so a record costs the same whatever name a
 * client sends (a refused attempt is recorded too; a 16 KiB header carries a 12,000-character name).
 */
function userKey(user: string): string {
  return createHash("sha256").update(user).digest("base64url");
}

/** How long an address that logged in as a user stays exempt from that user's back-off. */
const trustedAddressMs = 24 * 3600_000;

export class LoginThrottle {
  private readonly settings: LoginThrottleSettings;
  private readonly users = new BoundedMap<string, FailureRecord>(maxTrackedKeys);
  private readonly addresses = new BoundedMap<string, FailureRecord>(maxTrackedKeys);
  /** Failures per user\0address pair. */
  private readonly pairs = new BoundedMap<string, FailureRecord>(maxTrackedKeys);
  /** user\0address pairs that logged in successfully, with the time. */
  private readonly trusted = new BoundedMap<string, number>(maxTrackedKeys);

  constructor(settings: LoginThrottleSettings) {
    this.settings = settings;
  }

  /**
   * Whether a login of `user` from `address` may go on. `cached`: its user/password pair is in the
   * verified cache (no password check needed). When allowed, the caller must call release() once
   * the login ended (failed: the password was wrong).
   * - A backing-off address refuses password checks, not cached logins: one client's wrong password
   *   must not stop everyone behind the same NAT or ingress address from polling their queries.
   * - A backing-off user name refuses logins, cached ones too, except from addresses that logged in
   *   as that user before: a flood aimed at an account does not lock its owner out of where they work.
   * - A refused attempt that was not a cached login counts as a failure of its user and of the
   *   user/address pair (no check runs): a cached pair can tell a right guess from a wrong one
   *   without bcrypt, so guesses from a backing-off address must still run out. A pair backing off
   *   refuses everything.
   */
  check(userName: string, address: string, cached = false, nowMs = Date.now()): ThrottleDecision {
    const user = userKey(userName);
    const pair = `${user}\u0000${address}`;
    const pairRecord = this.live(this.pairs, pair, nowMs);
    const pairWait = this.waitMs(pairRecord, nowMs);
    if (pairWait > 0) return { allowed: false, scope: "user", retryAfterMs: pairWait };
    const trustedAtMs = this.trusted.peek(pair);
    const userCounts = trustedAtMs === undefined || nowMs - trustedAtMs > trustedAddressMs;
    const userRecord = this.live(this.users, user, nowMs);
    const userWait = userCounts ? this.waitMs(userRecord, nowMs) : 0;
    const addressRecord = this.live(this.addresses, address, nowMs);
    const addressWait = cached ? 0 : this.waitMs(addressRecord, nowMs);
    if (userWait > 0 || addressWait > 0) {
      if (!cached) {
        this.settle(this.pairs, pair, pairRecord, true, nowMs, false);
        if (userCounts) this.settle(this.users, user, userRecord, true, nowMs, false);
      }
      return addressWait > 0
        ? { allowed: false, scope: "address", retryAfterMs: addressWait }
        : { allowed: false, scope: "user", retryAfterMs: userWait };
    }
    if (cached) return { allowed: true, release: () => undefined };
    addressRecord.inProgress += 1;
    if (userCounts) userRecord.inProgress += 1;
    pairRecord.inProgress += 1;
    let released = false;
    return {
      allowed: true,
      release: (failed, releasedAtMs = Date.now()) => {
        if (released) return;
        released = true;
        this.settle(this.addresses, address, addressRecord, failed, releasedAtMs);
        if (userCounts) this.settle(this.users, user, userRecord, failed, releasedAtMs);
        this.settle(this.pairs, pair, pairRecord, failed, releasedAtMs);
      },
    };
  }

  /** Records a successful login: `address` is now trusted for `user`. */
  succeeded(user: string, address: string, nowMs = Date.now()): void {
    this.trusted.set(`${userKey(user)}\u0000${address}`, nowMs);
  }

  /** The record of `key`, a fresh one when it has none or was quiet for backoffMaxMs (stored). */
  private live(map: BoundedMap<string, FailureRecord>, key: string, nowMs: number): FailureRecord {
    let record = map.get(key);
    if (
      !record ||
      (record.inProgress === 0 && nowMs - record.lastFailureMs > this.settings.backoffMaxMs && nowMs >= record.blockedUntilMs)
    ) {
      record = { failures: 0, inProgress: 0, blockedUntilMs: 0, lastFailureMs: 0 };
      map.set(key, record);
    }
    return record;
  }

  /** How long `record` must wait before one more check may start (0: now). */
  private waitMs(record: FailureRecord, nowMs: number): number {
    if (record.blockedUntilMs > nowMs) return record.blockedUntilMs - nowMs;
    if (record.failures + record.inProgress < this.settings.freeFailures) return 0;
    // Past the free failures: one check at a time, each after the back-off of the previous failure.
    if (record.inProgress > 0) return this.settings.backoffBaseMs;
    return 0;
  }

  /** Ends an attempt of `record` (`ran`: it was counted in progress). */
  private settle(
    map: BoundedMap<string, FailureRecord>,
    key: string,
    record: FailureRecord,
    failed: boolean,
    nowMs: number,
    ran = true,
  ): void {
    if (ran) record.inProgress = Math.max(0, record.inProgress - 1);
    if (!failed) return;
    record.failures += 1;
    record.lastFailureMs = nowMs;
    const beyond = record.failures - this.settings.freeFailures;
    if (beyond >= 0)
      record.blockedUntilMs = nowMs + Math.min(this.settings.backoffMaxMs, this.settings.backoffBaseMs * 2 ** Math.min(beyond, 40));
    if (map.peek(key) !== record) map.set(key, record); // evicted meanwhile: a flood must not erase its own record
  }
}
