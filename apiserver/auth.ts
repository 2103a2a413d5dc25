// Authentication (bearer tokens: static token file or Kubernetes TokenReview) and authorisation
// (an allow-list of identities per action). Parsing and decisions are pure; TokenReview I/O is injected.
import { createHash } from "node:crypto";
import yaml from "js-yaml";
import { ApiError, forbidden, unauthenticated } from "./errors.ts";
import { isDns1123Label } from "../schemas/api/index.ts";

export interface Identity {
  username: string;
  groups: string[];
}

export type Action = "resume" | "suspend" | "activity" | "read";
export const actions: readonly Action[] = ["resume", "suspend", "activity", "read"];

/**
 * Who may do an action: an identity (a user name, `group:<name>`, or `*` for any authenticated
 * caller) in every namespace, or `{ identity, namespaces }` only for runtimes of those namespaces
 * (a team's own runtimes).
 */
export type AuthzEntry = string | { identity: string; namespaces: string[] };

/** Per action, who is allowed. */
export type AuthzConfig = Record<Action, AuthzEntry[]>;

const gatewayServiceAccount = "system:serviceaccount:xtrinode-gateway:xtrinode-gateway";
const adminGroup = "group:xtrinode-admins";

/** Used when no --authz-config is given: the gateway may resume, report activity and read; only admins suspend. */
export const defaultAuthzConfig: AuthzConfig = {
  resume: [gatewayServiceAccount, adminGroup],
  activity: [gatewayServiceAccount, adminGroup],
  suspend: [adminGroup],
  read: [gatewayServiceAccount, adminGroup],
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function parseEntry(entry: unknown, where: string): AuthzEntry {
  if (typeof entry === "string" && entry.length > 0) return entry;
  if (entry && typeof entry === "object" && !Array.isArray(entry)) {
    const { identity, namespaces, ...rest } = entry as Record<string, unknown>;
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length)
      throw new ConfigError(`${where}: unknown key "${unknownKeys[0]}"; an entry is an identity or { identity, namespaces }`);
    if (typeof identity !== "string" || identity === "")
      throw new ConfigError(`${where}.identity: expected a user name, "group:<name>" or "*"`);
    if (!Array.isArray(namespaces) || namespaces.length === 0 || !namespaces.every((ns) => typeof ns === "string" && isDns1123Label(ns))) {
      throw new ConfigError(`${where}.namespaces: expected a non-empty list of namespace names, e.g. [team-a]`);
    }
    return { identity, namespaces: namespaces as string[] };
  }
  throw new ConfigError(`${where}: expected an identity (a user name, "group:<name>" or "*") or { identity, namespaces: [...] }`);
}

/**
 * Parses an authorisation config (YAML or JSON): `{ resume: [...], suspend: [...], activity: [...], read: [...] }`,
 * each a list of identities (every namespace) or `{ identity, namespaces }`. Missing actions allow nobody.
 */
export function parseAuthzConfig(text: string, file: string): AuthzConfig {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (error) {
    throw new ConfigError(`${file}: not valid YAML/JSON: ${(error as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`${file}: expected a mapping of action to identity list, e.g. "resume: [group:xtrinode-admins]"`);
  }
  const config: AuthzConfig = { resume: [], suspend: [], activity: [], read: [] };
  for (const [key, value] of Object.entries(doc)) {
    if (!(actions as readonly string[]).includes(key)) {
      throw new ConfigError(`${file}: unknown action "${key}"; allowed actions are ${actions.join(", ")}`);
    }
    if (!Array.isArray(value)) {
      throw new ConfigError(
        `${file}: ${key} must be a list of identities (user names, "group:<name>" or "*", or { identity, namespaces })`,
      );
    }
    config[key as Action] = value.map((entry, index) => parseEntry(entry, `${file}: ${key}[${index}]`));
  }
  return config;
}

function names(entry: string, identity: Identity): boolean {
  return (
    entry === "*" || (entry.startsWith("group:") ? identity.groups.includes(entry.slice("group:".length)) : entry === identity.username)
  );
}

/**
 * Whether `identity` may perform `action` on runtimes of `namespace`; without a namespace, whether
 * it may in some namespace (the request's own namespace is checked once known).
 */
export function isAllowed(config: AuthzConfig, action: Action, identity: Identity, namespace?: string): boolean {
  return config[action].some((entry) =>
    typeof entry === "string"
      ? names(entry, identity)
      : names(entry.identity, identity) && (namespace === undefined || entry.namespaces.includes(namespace)),
  );
}

/** Whether `identity` may perform `action` in every namespace. */
export function isAllowedEverywhere(config: AuthzConfig, action: Action, identity: Identity): boolean {
  return config[action].some((entry) => typeof entry === "string" && names(entry, identity));
}

/** Where an identity may perform an action: every namespace, or only those listed (none: neither). */
export interface Permission {
  everywhere: boolean;
  namespaces: string[];
}

/** Per action, where `identity` may perform it (GET /v1/whoami: what the console offers; the server still checks each request). */
export function permissionsOf(config: AuthzConfig, identity: Identity): Record<Action, Permission> {
  const result = {} as Record<Action, Permission>;
  for (const action of actions) {
    const everywhere = isAllowedEverywhere(config, action, identity);
    const namespaces = new Set<string>();
    if (!everywhere) {
      for (const entry of config[action])
        if (typeof entry !== "string" && names(entry.identity, identity)) entry.namespaces.forEach((ns) => namespaces.add(ns));
    }
    result[action] = { everywhere, namespaces: [...namespaces].sort() };
  }
  return result;
}

export function authorize(config: AuthzConfig, action: Action, identity: Identity, namespace?: string): void {
  if (!isAllowed(config, action, identity, namespace)) {
    const where = namespace === undefined ? "runtimes" : `runtimes of namespace ${namespace}`;
    throw forbidden(
      `${identity.username} may not ${action} ${where}: add it (or one of its groups as "group:<name>") to "${action}" in the authorisation config${namespace === undefined ? "" : `, for every namespace or with namespaces: [${namespace}]`}`,
    );
  }
}

/** Splits one CSV line, honouring double quotes ("" inside quotes is a literal quote). */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      fields.push(field);
      field = "";
    } else field += ch;
  }
  fields.push(field);
  return fields.map((value) => value.trim());
}

/**
 * Parses a static token file in kube-apiserver's --token-auth-file format: one `token,user,uid,"group1,group2"`
 * per line (uid and groups optional; blank lines and lines starting with # are skipped).
 */
export function parseTokenFile(text: string, file: string): Map<string, Identity> {
  const tokens = new Map<string, Identity>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [token, username, _uid, groups] = splitCsvLine(line);
    if (!token || !username) throw new ConfigError(`${file}:${index + 1}: expected token,user[,uid[,"group1,group2"]]`);
    if (tokens.has(token)) throw new ConfigError(`${file}:${index + 1}: duplicate token (each token must name one user)`);
    tokens.set(token, {
      username,
      groups: groups
        ? groups
            .split(",")
            .map((g) => g.trim())
            .filter(Boolean)
        : [],
    });
  });
  return tokens;
}

/** Extracts the bearer token from an Authorization header, or throws 401. */
export function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match) throw unauthenticated("missing bearer token: send Authorization: Bearer <token>");
  return match[1];
}

export type Authenticator = (token: string) => Promise<Identity>;

export function staticTokenAuthenticator(tokens: Map<string, Identity>): Authenticator {
  return async (token) => {
    const identity = tokens.get(token);
    if (!identity) throw unauthenticated("invalid bearer token");
    return identity;
  };
}

/** Asks Kubernetes who a token belongs to; undefined when the token is not authenticated. Throws 503 when the API fails. */
export type TokenReviewer = (token: string) => Promise<Identity | undefined>;

/**
 * TokenReview-backed authentication with a short cache (keyed by a hash of the token, so raw tokens are
 * not kept) and single-flight: a burst of calls with one token costs one TokenReview.
 */
export function tokenReviewAuthenticator(
  review: TokenReviewer,
  options: { ttlMs?: number; negativeTtlMs?: number; reviewsPerSecond?: number; now?: () => number } = {},
): Authenticator {
  const ttlMs = options.ttlMs ?? 10_000;
  const negativeTtlMs = options.negativeTtlMs ?? 2_000;
  const now = options.now ?? Date.now;
  // Accepted and rejected tokens are cached apart, each bounded on its own: a flood of junk tokens
  // can only evict junk, never the gateway's accepted token.
  const accepted = new Map<string, { identity: Identity; expiresAtMs: number }>();
  const rejected = new Map<string, number>();
  const maxEntries = 10_000;
  // Reviews of tokens not in the cache are rate-limited, so unauthenticated callers cannot turn this
  // server into a TokenReview flood against the Kubernetes API.
  const reviewsPerSecond = options.reviewsPerSecond ?? 50;
  let allowance = reviewsPerSecond;
  let allowanceAtMs = now();
  const inFlight = new Map<string, Promise<Identity | undefined>>();
  return async (token) => {
    const key = createHash("sha256").update(token).digest("hex");
    const known = accepted.get(key);
    if (known && now() < known.expiresAtMs) return known.identity;
    if ((rejected.get(key) ?? 0) > now()) throw unauthenticated("invalid bearer token (rejected by the Kubernetes TokenReview API)");
    let pending = inFlight.get(key);
    if (!pending) {
      allowance = Math.min(reviewsPerSecond, allowance + ((now() - allowanceAtMs) / 1000) * reviewsPerSecond);
      allowanceAtMs = now();
      if (allowance < 1) throw tooManyReviews();
      allowance -= 1;
      pending = review(token)
        .then((result) => {
          if (result) {
            if (accepted.size >= maxEntries) accepted.clear();
            accepted.set(key, { identity: result, expiresAtMs: now() + ttlMs });
          } else {
            if (rejected.size >= maxEntries) rejected.clear();
            rejected.set(key, now() + negativeTtlMs);
          }
          return result;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    const identity = await pending;
    if (!identity) throw unauthenticated("invalid bearer token (rejected by the Kubernetes TokenReview API)");
    return identity;
  };
}

function tooManyReviews(): ApiError {
  return new ApiError(503, "TooManyTokenReviews", "too many unknown bearer tokens to review right now; retry shortly", {
    "Retry-After": "1",
  });
}
