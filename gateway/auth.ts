// Optional authentication (Basic against a Trino password.db with bcrypt hashes, or a bearer JWT)
// and per-runtime authorisation. Off when neither a password file nor a JWT key is configured.
// Basic logins: back-off per user and per client address (login-throttle.ts), bcrypt on worker
// threads (password-verifier.ts), the same bcrypt work for unknown users as for known ones, and a
// short-lived cache of verified pairs so follow-up polls skip bcrypt.
import { createHmac, createPublicKey, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import bcrypt from "bcryptjs";
import { jwtVerify } from "jose";
import { BoundedMap } from "./bounded-map.ts";
import {
  resolveLoginThrottle,
  resolvePasswordVerification,
  type GatewaySettings,
  type LoginThrottleSettings,
  type PasswordVerificationSettings,
} from "./config.ts";
import { LoginThrottle } from "./login-throttle.ts";
import { PasswordVerifier } from "./password-verifier.ts";

export interface Principal {
  name: string;
  groups: string[];
}

export type AuthResult = { ok: true; principal: Principal } | AuthFailure;

export interface Authenticator {
  enabled: boolean;
  /** Authenticates an Authorization header value from a client address (the key of login back-off). */
  authenticate(authorization: string | undefined, clientAddress?: string): Promise<AuthResult>;
  /** bcrypt checks run so far and checks queued or running now. */
  passwordChecks(): { run: number; pending: number };
  /** Stops the password-check worker threads. */
  close(): Promise<void>;
  /** Whether the principal may send queries as `user` (X-Trino-User). */
  mayActAs(principal: Principal, user: string): boolean;
  /** Whether the principal may use the runtime "namespace/name". */
  mayUse(principal: Principal, runtime: string): boolean;
  challenges: string[];
}

/** Parses Trino's password.db: `user:bcrypthash` per line; blank lines and # comments ignored. */
export function parsePasswordFile(text: string, file: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) return;
    const colon = trimmed.indexOf(":");
    const hash = trimmed.slice(colon + 1);
    if (colon <= 0 || !/^\$2[aby]\$\d\d\$/.test(hash))
      throw new Error(`${file}:${index + 1}: expected user:bcrypthash (bcrypt, e.g. htpasswd -B)`);
    users.set(trimmed.slice(0, colon), hash);
  });
  return users;
}

function loadJwtKey(file: string): KeyObject {
  const text = readFileSync(file, "utf8");
  if (text.includes("-----BEGIN")) return createPublicKey(text);
  return createSecretKey(Buffer.from(text.trim(), "utf8"));
}

export function matchesRuntime(pattern: string, runtime: string): boolean {
  if (pattern === "*" || pattern === runtime) return true;
  return pattern.endsWith("/*") && runtime.startsWith(pattern.slice(0, -1));
}

/** How a failed authentication is answered: 401 (wrong or missing credentials) or 429 (back off, then retry). */
export type AuthFailure =
  { ok: false; message: string; reason: "invalid" } | { ok: false; message: string; reason: "throttled" | "busy"; retryAfterMs: number };

/** What each Basic login came to (the `outcome` label of xtrinode_gateway_logins_total). */
export type LoginOutcome = "verified" | "cached" | "invalid" | "throttled-user" | "throttled-address" | "busy";

export interface AuthenticatorOptions {
  throttle?: LoginThrottleSettings;
  verification?: PasswordVerificationSettings;
  onLogin?: (outcome: LoginOutcome) => void;
}

/** Highest bcrypt cost in the password file: unknown users are checked against a hash as slow as the slowest. */
function highestCost(hashes: Iterable<string>): number {
  let cost = 4;
  for (const hash of hashes) cost = Math.max(cost, Number(hash.slice(4, 6)));
  return cost;
}

export function createAuthenticator(settings: GatewaySettings["auth"], options: AuthenticatorOptions = {}): Authenticator {
  const passwords = settings.passwordFile
    ? parsePasswordFile(readFileSync(settings.passwordFile, "utf8"), settings.passwordFile)
    : undefined;
  const jwtKey = settings.jwt ? loadJwtKey(settings.jwt.keyFile) : undefined;
  const enabled = Boolean(passwords || jwtKey);
  const verification = options.verification ?? resolvePasswordVerification(settings);
  const throttle = new LoginThrottle(options.throttle ?? resolveLoginThrottle(settings));
  const verifier = passwords ? new PasswordVerifier(verification.workers, verification.maxPending) : undefined;
  // Unknown users (and credentials without a user) are checked against this hash of a random
  // password: the same bcrypt work as a known user's, so neither time nor load tells them apart.
  const dummyHash = passwords ? bcrypt.hashSync(randomBytes(16).toString("hex"), highestCost(passwords.values())) : "";
  // Every poll carries the credentials: verified pairs skip bcrypt for cacheTtlMs. Keyed by an HMAC
  // under a per-process random key (a memory dump yields no offline-guessable password digests).
  const cacheKey = randomBytes(32);
  const verified = new BoundedMap<string, number>(verification.cacheMaxEntries);
  const onLogin = options.onLogin ?? (() => undefined);
  const groupsOf = (user: string): string[] =>
    Object.entries(settings.groups ?? {})
      .filter(([, members]) => members.includes(user))
      .map(([group]) => group);
  const challenges = [...(passwords ? ['Basic realm="XTrinode"'] : []), ...(jwtKey ? ['Bearer realm="XTrinode"'] : [])];

  async function basicLogin(credentials: string, clientAddress: string): Promise<AuthResult> {
    const decoded = Buffer.from(credentials, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const user = colon > 0 ? decoded.slice(0, colon) : "";
    const password = decoded.slice(colon + 1);
    const hash = user ? passwords!.get(user) : undefined;
    const key = hash ? createHmac("sha256", cacheKey).update(`${user}\u0000${password}\u0000${hash}`).digest("base64") : undefined;
    const cachedUntil = key ? verified.get(key) : undefined;
    const cached = cachedUntil !== undefined && cachedUntil > Date.now();
    const decision = throttle.check(user, clientAddress, cached);
    if (!decision.allowed) {
      onLogin(decision.scope === "user" ? "throttled-user" : "throttled-address");
      const who = decision.scope === "user" ? `user ${user || "(none)"}` : `client address ${clientAddress}`;
      return {
        ok: false,
        reason: "throttled",
        retryAfterMs: decision.retryAfterMs,
        message: `too many failed logins for ${who}; retry in ${Math.ceil(decision.retryAfterMs / 1000)} s`,
      };
    }
    if (cached) {
      decision.release(false);
      throttle.succeeded(user, clientAddress);
      onLogin("cached");
      return { ok: true, principal: { name: user, groups: groupsOf(user) } };
    }
    const outcome = await verifier!.verify(password, hash ?? dummyHash);
    if (outcome === "busy") {
      decision.release(false);
      onLogin("busy");
      return {
        ok: false,
        reason: "busy",
        retryAfterMs: 1000,
        message: `the gateway is busy checking ${verifier!.maxPending} other logins; retry in 1 s`,
      };
    }
    const ok = outcome === "match" && hash !== undefined;
    decision.release(!ok);
    if (!ok) {
      onLogin("invalid");
      return { ok: false, reason: "invalid", message: "invalid credentials" };
    }
    if (key && verification.cacheTtlMs > 0) verified.set(key, Date.now() + verification.cacheTtlMs);
    throttle.succeeded(user, clientAddress);
    onLogin("verified");
    return { ok: true, principal: { name: user, groups: groupsOf(user) } };
  }

  async function authenticate(authorization: string | undefined, clientAddress = "-"): Promise<AuthResult> {
    if (!authorization) return { ok: false, reason: "invalid", message: "authentication required" };
    const space = authorization.indexOf(" ");
    const scheme = authorization.slice(0, space).toLowerCase();
    const credentials = authorization.slice(space + 1).trim();
    if (scheme === "basic" && passwords) return basicLogin(credentials, clientAddress);
    if (scheme === "bearer" && jwtKey && settings.jwt) {
      try {
        // A token without exp would be valid forever: refused unless configured otherwise.
        const requiredClaims = settings.jwt.requireExpiration === false ? [] : ["exp"];
        const { payload } = await jwtVerify(credentials, jwtKey, {
          issuer: settings.jwt.issuer,
          audience: settings.jwt.audience,
          requiredClaims,
        });
        const name = payload[settings.jwt.principalClaim ?? "sub"];
        if (typeof name !== "string" || !name) return { ok: false, reason: "invalid", message: "token has no principal claim" };
        const claimed = payload[settings.jwt.groupsClaim ?? "groups"];
        const groups = Array.isArray(claimed) ? claimed.filter((group): group is string => typeof group === "string") : [];
        return { ok: true, principal: { name, groups: [...new Set([...groups, ...groupsOf(name)])] } };
      } catch (error) {
        return { ok: false, reason: "invalid", message: `invalid token: ${(error as Error).message}` };
      }
    }
    return {
      ok: false,
      reason: "invalid",
      message: `unsupported authentication scheme; use ${challenges.map((c) => c.split(" ")[0]).join(" or ")}`,
    };
  }

  return {
    enabled,
    challenges,
    authenticate,
    passwordChecks: () => ({ run: verifier?.checks ?? 0, pending: verifier?.pending ?? 0 }),
    close: async () => verifier?.close(),
    mayActAs(principal, user) {
      if (user === principal.name) return true;
      const allowed = settings.impersonation?.[principal.name] ?? [];
      return allowed.includes("*") || allowed.includes(user);
    },
    mayUse(principal, runtime) {
      const rules = settings.authorization ?? [];
      if (rules.length === 0) return true;
      const rule = rules.find((candidate) => matchesRuntime(candidate.runtime, runtime));
      if (!rule) return false;
      return (
        (rule.users ?? []).includes(principal.name) ||
        (rule.users ?? []).includes("*") ||
        (rule.groups ?? []).some((group) => principal.groups.includes(group))
      );
    },
  };
}
