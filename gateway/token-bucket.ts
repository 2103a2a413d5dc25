// Token bucket (pure): `ratePerSecond` tokens refill continuously up to `burst`.
export interface TokenBucket {
  tokens: number;
  updatedAtMs: number;
}

export interface TokenBucketLimits {
  ratePerSecond: number;
  burst: number;
}

export interface TakeResult {
  allowed: boolean;
  bucket: TokenBucket;
  /** When refused: how long until one token is available. */
  retryAfterMs: number;
}

export function fullBucket(limits: TokenBucketLimits, nowMs: number): TokenBucket {
  return { tokens: limits.burst, updatedAtMs: nowMs };
}

export function takeToken(bucket: TokenBucket, limits: TokenBucketLimits, nowMs: number): TakeResult {
  const elapsedSeconds = Math.max(0, nowMs - bucket.updatedAtMs) / 1000;
  const tokens = Math.min(limits.burst, bucket.tokens + elapsedSeconds * limits.ratePerSecond);
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, updatedAtMs: nowMs }, retryAfterMs: 0 };
  const retryAfterMs = limits.ratePerSecond > 0 ? Math.ceil(((1 - tokens) / limits.ratePerSecond) * 1000) : Infinity;
  return { allowed: false, bucket: { tokens, updatedAtMs: nowMs }, retryAfterMs };
}
