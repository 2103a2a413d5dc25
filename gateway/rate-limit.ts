// Token buckets on new queries per principal (and optionally per runtime), bounded in number.
import { BoundedMap } from "./bounded-map.ts";
import { fullBucket, takeToken, type TokenBucket, type TokenBucketLimits } from "./token-bucket.ts";

export class RateLimiter {
  private readonly buckets = new BoundedMap<string, TokenBucket>(100_000);
  private readonly limits: TokenBucketLimits;

  constructor(limits: TokenBucketLimits) {
    this.limits = limits;
  }

  take(key: string, nowMs = Date.now()): { allowed: boolean; retryAfterMs: number } {
    const bucket = this.buckets.get(key) ?? fullBucket(this.limits, nowMs);
    const result = takeToken(bucket, this.limits, nowMs);
    this.buckets.set(key, result.bucket);
    return { allowed: result.allowed, retryAfterMs: result.retryAfterMs };
  }
}
