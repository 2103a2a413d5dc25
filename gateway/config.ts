// Gateway configuration: the optional --config file (schemas/gateway-config.schema.json) plus defaults.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import yaml from "js-yaml";
import type { GatewayConfig } from "../schemas/generated/types.ts";
import { validateAgainstSchema } from "../schemas/validate.ts";

export type { GatewayConfig };

export interface GatewaySettings {
  trustedProxies: string[];
  auth: NonNullable<GatewayConfig["auth"]>;
  loginThrottle: LoginThrottleSettings;
  passwordVerification: PasswordVerificationSettings;
  statements: { maxBytes: number; memoryBudgetBytes: number; bodyTimeoutMs: number };
  rateLimit?: { queriesPerSecond: number; burst: number; perRuntime: boolean };
  health: { intervalMs: number; timeoutMs: number; failureThreshold: number; ejectionBaseMs: number; ejectionMaxMs: number };
  held: { maxQueries: number; maxAgeMs: number; abandonAfterMs: number; pollWaitMs: number };
  activityIntervalMs: number;
  sticky: { maxCoordinators: number; maxQueries: number; queryIdleMs: number; lookupsPerSecond: number; lookupBurst: number };
}

export interface LoginThrottleSettings {
  freeFailures: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface PasswordVerificationSettings {
  workers: number;
  maxPending: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
}

type AuthConfig = NonNullable<GatewayConfig["auth"]>;

export function resolveLoginThrottle(auth: AuthConfig = {}): LoginThrottleSettings {
  const throttle = auth.loginThrottle;
  return {
    freeFailures: throttle?.freeFailures ?? 5,
    backoffBaseMs: throttle?.backoffBaseMs ?? 1000,
    backoffMaxMs: throttle?.backoffMaxMs ?? 300_000,
  };
}

export function resolvePasswordVerification(auth: AuthConfig = {}): PasswordVerificationSettings {
  const verification = auth.passwordVerification;
  return {
    // One core stays with the request loop; bcrypt is CPU-bound, more threads than cores only queue.
    workers: verification?.workers ?? Math.min(4, Math.max(1, availableParallelism() - 1)),
    maxPending: verification?.maxPending ?? 64,
    cacheTtlMs: verification?.cacheTtlMs ?? 300_000,
    cacheMaxEntries: verification?.cacheMaxEntries ?? 10_000,
  };
}

/** Applies defaults. */
export function resolveSettings(config: GatewayConfig = {}, env: NodeJS.ProcessEnv = process.env): GatewaySettings {
  const rate = config.rateLimit;
  return {
    trustedProxies: config.trustedProxies ?? [],
    auth: config.auth ?? {},
    loginThrottle: resolveLoginThrottle(config.auth),
    passwordVerification: resolvePasswordVerification(config.auth),
    statements: {
      maxBytes: config.statements?.maxBytes ?? 10 * 1024 * 1024,
      memoryBudgetBytes: config.statements?.memoryBudgetBytes ?? 128 * 1024 * 1024,
      bodyTimeoutMs: config.statements?.bodyTimeoutMs ?? 30_000,
    },
    rateLimit: rate
      ? {
          queriesPerSecond: rate.queriesPerSecond,
          burst: rate.burst ?? Math.max(1, rate.queriesPerSecond),
          perRuntime: rate.perRuntime ?? false,
        }
      : undefined,
    health: {
      intervalMs: config.health?.intervalMs ?? 3000,
      timeoutMs: config.health?.timeoutMs ?? 2000,
      failureThreshold: config.health?.failureThreshold ?? 3,
      ejectionBaseMs: config.health?.ejectionBaseMs ?? 2000,
      ejectionMaxMs: config.health?.ejectionMaxMs ?? 60_000,
    },
    held: {
      maxQueries: config.held?.maxQueries ?? 1000,
      maxAgeMs: config.held?.maxAgeMs ?? 600_000,
      abandonAfterMs: config.held?.abandonAfterMs ?? 60_000,
      pollWaitMs: config.held?.pollWaitMs ?? 1000,
    },
    activityIntervalMs: config.activityIntervalMs ?? 30_000,
    sticky: {
      maxCoordinators: config.sticky?.maxCoordinators ?? 10_000,
      maxQueries: config.sticky?.maxQueries ?? 100_000,
      queryIdleMs: config.sticky?.queryIdleMs ?? 120_000,
      lookupsPerSecond: config.sticky?.lookupsPerSecond ?? 2,
      lookupBurst: config.sticky?.lookupBurst ?? 20,
    },
  };
}

/** Validates a parsed config document; returns "path: message" lines (empty when valid). */
export function configIssues(doc: unknown): string[] {
  return validateAgainstSchema("GatewayConfig", doc).map((issue) => `${issue.path || "(top level)"}: ${issue.message}`);
}

export function loadGatewayConfig(file: string): GatewayConfig {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, "utf8")) ?? {};
  } catch (error) {
    throw new Error(`${file}: cannot read the gateway config: ${(error as Error).message}`);
  }
  const issues = configIssues(doc);
  if (issues.length > 0) throw new Error(`${file}: invalid gateway config (schemas/gateway-config.schema.json):\n  ${issues.join("\n  ")}`);
  return doc as GatewayConfig;
}
