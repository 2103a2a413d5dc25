// Transactions stick to the coordinator that started them on every gateway replica, with no shared
// state and no per-transaction memory: the gateway hands the client Trino's transaction id with a
// tag naming the backend ("<trino id>.<tag>", in X-Trino-Started-Transaction-Id), clients echo it
// as an opaque string in X-Trino-Transaction-Id, and the gateway routes by the tag and strips it
// before forwarding, so Trino only ever sees its own id. A tag only picks among the configured
// routes' backends (and authorisation still applies to the route it picks); an unknown or missing
// tag routes the request like any other.
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

const startedHeader = "x-trino-started-transaction-id";
export const transactionHeader = "x-trino-transaction-id";
const tagPattern = /^(.+)\.([0-9a-f]{8})$/;

const tags = new Map<string, string>();

/** A short, stable name of a backend URL (8 hex digits of its SHA-256); remembered, since every transaction request compares all route backends. */
export function backendTag(backend: string): string {
  let tag = tags.get(backend);
  if (tag === undefined) {
    if (tags.size >= 10_000) tags.clear(); // backends come from the routes: a bound that is never reached in practice
    tag = createHash("sha256").update(backend).digest("hex").slice(0, 8);
    tags.set(backend, tag);
  }
  return tag;
}

/** Splits a client's X-Trino-Transaction-Id into Trino's id and the backend tag (absent when untagged). */
export function parseTransactionToken(token: string): { id: string; tag?: string } {
  const match = tagPattern.exec(token);
  return match ? { id: match[1], tag: match[2] } : { id: token };
}

/** Of `backends`, the one a tagged transaction token names. */
export function backendOfTransaction(token: string, backends: Iterable<string>): string | undefined {
  const { tag } = parseTransactionToken(token);
  if (!tag) return undefined;
  for (const backend of backends) if (backendTag(backend) === tag) return backend;
  return undefined;
}

/** Replaces a tagged X-Trino-Transaction-Id by Trino's own id (in place, before forwarding). */
export function untagTransactionHeader(headers: IncomingHttpHeaders | Record<string, unknown>): void {
  const token = headers[transactionHeader];
  if (typeof token === "string") headers[transactionHeader] = parseTransactionToken(token).id;
}

/** Tags X-Trino-Started-Transaction-Id in a raw [name, value, …] header list (in place). */
export function tagStartedTransactionRaw(rawHeaders: string[], backend: string): void {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === startedHeader) rawHeaders[i + 1] = `${rawHeaders[i + 1]}.${backendTag(backend)}`;
  }
}
