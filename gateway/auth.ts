// Optional authentication (Basic against a Trino password.db with bcrypt hashes, or a bearer JWT)
// and per-runtime authorisation. Off when neither a password file nor a JWT key is configured.
import { createHash, createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import bcrypt from "bcryptjs";
import { jwtVerify } from "jose";
import { BoundedMap } from "./bounded-map.ts";
import type { GatewaySettings } from "./config.ts";

export interface Principal {
  name: string;
  groups: string[];
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; message: string };

export interface Authenticator {
  enabled: boolean;
  /** Authenticates an Authorization header value; ok:false means 401. */
  authenticate(authorization: string | undefined): Promise<AuthResult>;
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
    if (colon <= 0 || !/^\$2[aby]\$\d\d\$/.test(hash)) throw new Error(`${file}:${index + 1}: expected user:bcrypthash (bcrypt, e.g. htpasswd -B)`);
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

export function createAuthenticator(settings: GatewaySettings["auth"]): Authenticator {
  const passwords = settings.passwordFile ? parsePasswordFile(readFileSync(settings.passwordFile, "utf8"), settings.passwordFile) : undefined;
  const jwtKey = settings.jwt ? loadJwtKey(settings.jwt.keyFile) : undefined;
  const enabled = Boolean(passwords || jwtKey);
  // bcrypt costs tens of ms; every poll carries credentials, so remember verified ones (hashed, bounded).
  const verified = new BoundedMap<string, true>(10_000);
  const groupsOf = (user: string): string[] =>
    Object.entries(settings.groups ?? {})
      .filter(([, members]) => members.includes(user))
      .map(([group]) => group);
  const challenges = [...(passwords ? ['Basic realm="XTrinode"'] : []), ...(jwtKey ? ['Bearer realm="XTrinode"'] : [])];

  async function authenticate(authorization: string | undefined): Promise<AuthResult> {
    if (!authorization) return { ok: false, message: "authentication required" };
    const space = authorization.indexOf(" ");
    const scheme = authorization.slice(0, space).toLowerCase();
    const credentials = authorization.slice(space + 1).trim();
    if (scheme === "basic" && passwords) {
      const decoded = Buffer.from(credentials, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const hash = colon > 0 ? passwords.get(user) : undefined;
      if (!hash) return { ok: false, message: "invalid credentials" };
      const key = createHash("sha256").update(`${user}\u0000${password}\u0000${hash}`).digest("base64");
      if (!verified.get(key)) {
        if (!(await bcrypt.compare(password, hash))) return { ok: false, message: "invalid credentials" };
        verified.set(key, true);
      }
      return { ok: true, principal: { name: user, groups: groupsOf(user) } };
    }
    if (scheme === "bearer" && jwtKey && settings.jwt) {
      try {
        const { payload } = await jwtVerify(credentials, jwtKey, { issuer: settings.jwt.issuer, audience: settings.jwt.audience });
        const name = payload[settings.jwt.principalClaim ?? "sub"];
        if (typeof name !== "string" || !name) return { ok: false, message: "token has no principal claim" };
        const claimed = payload[settings.jwt.groupsClaim ?? "groups"];
        const groups = Array.isArray(claimed) ? claimed.filter((group): group is string => typeof group === "string") : [];
        return { ok: true, principal: { name, groups: [...new Set([...groups, ...groupsOf(name)])] } };
      } catch (error) {
        return { ok: false, message: `invalid token: ${(error as Error).message}` };
      }
    }
    return { ok: false, message: `unsupported authentication scheme; use ${challenges.map((c) => c.split(" ")[0]).join(" or ")}` };
  }

  return {
    enabled,
    challenges,
    authenticate,
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
      return (rule.users ?? []).includes(principal.name) || (rule.users ?? []).includes("*") || (rule.groups ?? []).some((group) => principal.groups.includes(group));
    },
  };
}
