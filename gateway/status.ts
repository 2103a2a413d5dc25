// The operator endpoint GET /xtrinode/v1/status: what this replica sees (routes, held and in-flight
// queries per runtime, backend health and breakers), per schemas/gateway-status.schema.json.
// Outside Trino's /v1 and /ui paths, so it can never shadow a Trino resource; answered by the
// gateway itself, never forwarded. Readable only with the admin token (admin.tokenFile) or, with
// authentication on, by the principals and groups of `admin` in the gateway config.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { apiVersion, kinds } from "../schemas/api/index.ts";
import type { GatewayConfig, GatewayStatus, RuntimeStatus, BackendStatus } from "../schemas/generated/types.ts";
import type { Authenticator } from "./auth.ts";
import type { Backends } from "./backends.ts";
import { advanceBreaker } from "./breaker.ts";
import type { HeldQueries } from "./held/queries.ts";
import { routeKey } from "./route-table.ts";
import type { RoutesReader } from "./routes-reader.ts";
import type { InFlightQueries } from "./sticky.ts";

export type { GatewayStatus };

/** The path of the operator status endpoint (the CLI and the console build their URL from it). */
export const gatewayStatusPath = "/xtrinode/v1/status";

/** Shortest accepted admin token. */
const minAdminTokenChars = 32;

export interface StatusSources {
  routes: RoutesReader;
  backends: Backends;
  held: HeldQueries;
  inFlight: InFlightQueries;
}

/** The status document (pure apart from reading the live state it is given). */
export function buildGatewayStatus(sources: StatusSources, nowMs = Date.now()): GatewayStatus {
  const heldPerRuntime = sources.held.perRuntime();
  const runtimes = new Map<string, RuntimeStatus>();
  for (const route of sources.routes.table.routes) {
    const key = routeKey(route);
    runtimes.set(key, {
      namespace: route.namespace,
      name: route.name,
      routeState: route.state,
      backend: route.backend,
      ...(route.hostnames?.length ? { hostnames: route.hostnames } : {}),
      ...(route.pool ? { pool: route.pool } : {}),
      ...(route.default ? { default: true } : {}),
      heldQueries: heldPerRuntime.get(key) ?? 0,
      inFlightQueries: sources.inFlight.perRuntime.get(key) ?? 0,
    });
  }
  // Queries of a runtime that left the routes still count here until they end.
  for (const key of new Set([...heldPerRuntime.keys(), ...sources.inFlight.perRuntime.keys()])) {
    if (runtimes.has(key)) continue;
    const slash = key.indexOf("/");
    if (slash < 0) continue; // a transaction's bare backend label, not a runtime
    runtimes.set(key, {
      namespace: key.slice(0, slash),
      name: key.slice(slash + 1),
      heldQueries: heldPerRuntime.get(key) ?? 0,
      inFlightQueries: sources.inFlight.perRuntime.get(key) ?? 0,
    });
  }
  const backends: BackendStatus[] = sources.backends
    .all()
    .map((state) => {
      const breaker = advanceBreaker(state.breaker, nowMs);
      return {
        url: state.url,
        health: state.health,
        breaker: breaker.phase,
        ejections: breaker.ejections,
        ...(breaker.phase === "open" ? { openSecondsLeft: Math.max(0, (breaker.openUntilMs - nowMs) / 1000) } : {}),
        inFlightQueries: sources.inFlight.perBackend.get(state.url) ?? 0,
      };
    })
    .sort((a, b) => a.url.localeCompare(b.url));
  return {
    apiVersion,
    kind: kinds.gatewayStatus,
    generatedAt: new Date(nowMs).toISOString(),
    routes: {
      generation: sources.routes.generation,
      lastGoodAgeSeconds: sources.routes.lastGoodAtMs === undefined ? null : Math.max(0, (nowMs - sources.routes.lastGoodAtMs) / 1000),
      invalidUpdates: sources.routes.invalidUpdates,
      rejectedSinceLastGood: sources.routes.rejectedSinceLastGood,
    },
    held: { count: sources.held.size, max: sources.held.maxQueries },
    inFlight: { count: sources.inFlight.size },
    runtimes: [...runtimes.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name)),
    backends,
  };
}

export type StatusAccessDecision = { ok: true } | { ok: false; status: 401 | 403; message: string; challenges?: string[] };

/** Who may read the status endpoint: the admin token, or (auth on) the admin users and groups. */
export class StatusAccess {
  private readonly tokenDigest: Buffer | undefined;
  private readonly users: ReadonlySet<string>;
  private readonly groups: ReadonlySet<string>;

  constructor(admin: GatewayConfig["admin"] = {}) {
    this.users = new Set(admin.users ?? []);
    this.groups = new Set(admin.groups ?? []);
    if (admin.tokenFile) {
      let token: string;
      try {
        token = readFileSync(admin.tokenFile, "utf8").trim();
      } catch (error) {
        throw new Error(`admin.tokenFile: cannot read ${admin.tokenFile}: ${(error as Error).message}`);
      }
      if (token.length < minAdminTokenChars)
        throw new Error(
          `admin.tokenFile: ${admin.tokenFile} must hold a token of at least ${minAdminTokenChars} characters (e.g. \`openssl rand -base64 48\`)`,
        );
      this.tokenDigest = digest(token);
    }
  }

  async check(authorization: string | undefined, auth: Authenticator): Promise<StatusAccessDecision> {
    const bearer = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (this.tokenDigest && bearer && timingSafeEqual(digest(bearer), this.tokenDigest)) return { ok: true };
    const nobody = this.users.size === 0 && this.groups.size === 0;
    if (!auth.enabled) {
      if (!this.tokenDigest)
        return {
          ok: false,
          status: 403,
          message: `${gatewayStatusPath} is for operators: set admin.tokenFile in the gateway config (--config) and send that token as a bearer token`,
        };
      return {
        ok: false,
        status: 401,
        message: "send the gateway's admin token (admin.tokenFile) as a bearer token",
        challenges: ['Bearer realm="XTrinode admin"'],
      };
    }
    if (nobody && !this.tokenDigest)
      return {
        ok: false,
        status: 403,
        message: `${gatewayStatusPath} is for operators: list them in admin.users or admin.groups of the gateway config, or set admin.tokenFile`,
      };
    const result = await auth.authenticate(authorization);
    if (!result.ok) return { ok: false, status: 401, message: `authentication failed: ${result.message}`, challenges: auth.challenges };
    const { principal } = result;
    if (this.users.has(principal.name) || principal.groups.some((group) => this.groups.has(group))) return { ok: true };
    return {
      ok: false,
      status: 403,
      message: `access denied: ${principal.name} is not in admin.users or admin.groups of the gateway config`,
    };
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
