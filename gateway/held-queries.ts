// Statements held by the gateway while their runtime resumes. Bounded in count; each is dropped
// when its client stops polling, cancels, or it outlives the maximum age.
// A held statement of moderate size also travels in its nextUri (a "ticket" in the slug, deflated:
// SQL compresses several-fold), so a poll that reaches another gateway replica (no shared state) can
// adopt it instead of failing.
import type { OutgoingHttpHeaders } from "node:http";
import { randomBytes } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";

/** What another replica needs to run a held statement: runtime, SQL and the Trino session headers. */
export interface HeldTicket {
  namespace: string;
  name: string;
  sql: string;
  headers: Record<string, string>;
  createdAtMs: number;
}

const ticketPrefix = "z.";
/** Longest ticket put in a URI (URIs of a few KB pass every client and proxy). */
export const maxTicketChars = 6000;
/** A ticket never inflates beyond this (a forged one must not cost memory). */
const maxTicketBytes = 1024 * 1024;

/** Session headers a ticket carries: the X-Trino-* request headers (never credentials). */
export function ticketHeaders(headers: OutgoingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith("x-trino-") && value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}

/** The slug for a held statement: a ticket when it fits, else a random (replica-local) slug. */
export function heldSlug(ticket: HeldTicket): string {
  const json = Buffer.from(JSON.stringify([ticket.namespace, ticket.name, ticket.sql, ticket.headers, ticket.createdAtMs]), "utf8");
  // base64url is 4/3 of the bytes: skip deflating what cannot fit even at a generous 10:1.
  if (json.length > maxTicketChars * 7.5) return randomBytes(12).toString("hex");
  const encoded = ticketPrefix + deflateRawSync(json).toString("base64url");
  return encoded.length <= maxTicketChars ? encoded : randomBytes(12).toString("hex");
}

export function parseTicket(slug: string): HeldTicket | undefined {
  if (!slug.startsWith(ticketPrefix)) return undefined;
  try {
    const json = inflateRawSync(Buffer.from(slug.slice(ticketPrefix.length), "base64url"), { maxOutputLength: maxTicketBytes });
    const [namespace, name, sql, headers, createdAtMs] = JSON.parse(json.toString("utf8")) as [unknown, unknown, unknown, unknown, unknown];
    if (typeof namespace !== "string" || typeof name !== "string" || typeof sql !== "string" || typeof createdAtMs !== "number") return undefined;
    if (typeof headers !== "object" || headers === null || Object.entries(headers).some(([key, value]) => !key.startsWith("x-trino-") || typeof value !== "string")) return undefined;
    return { namespace, name, sql, headers: headers as Record<string, string>, createdAtMs };
  } catch {
    return undefined;
  }
}

export interface HeldQuery {
  id: string;
  slug: string;
  namespace: string;
  name: string;
  body: Buffer;
  headers: OutgoingHttpHeaders;
  createdAtMs: number;
  lastPollMs: number;
  /** Set once a poll is submitting the statement to the backend. */
  submitting?: boolean;
}

export class HeldQueries {
  private readonly held = new Map<string, HeldQuery>();
  readonly maxQueries: number;

  constructor(maxQueries: number) {
    this.maxQueries = maxQueries;
  }

  get size(): number {
    return this.held.size;
  }

  full(): boolean {
    return this.held.size >= this.maxQueries;
  }

  add(entry: Omit<HeldQuery, "lastPollMs">): HeldQuery {
    const held = { ...entry, lastPollMs: Date.now() };
    this.held.set(held.id, held);
    return held;
  }

  get(id: string): HeldQuery | undefined {
    return this.held.get(id);
  }

  delete(id: string): boolean {
    return this.held.delete(id);
  }

  perRuntime(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const held of this.held.values()) counts.set(`${held.namespace}/${held.name}`, (counts.get(`${held.namespace}/${held.name}`) ?? 0) + 1);
    return counts;
  }

  /** Drops statements nobody polled for `abandonAfterMs`; returns them. */
  sweep(nowMs: number, abandonAfterMs: number): HeldQuery[] {
    const dropped: HeldQuery[] = [];
    for (const held of this.held.values()) {
      if (!held.submitting && nowMs - held.lastPollMs > abandonAfterMs) {
        this.held.delete(held.id);
        dropped.push(held);
      }
    }
    return dropped;
  }
}
