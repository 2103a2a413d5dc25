// Statements held by the gateway while their runtime resumes. Bounded in count; each is dropped
// when its client stops polling, cancels, or it outlives the maximum age.
// A held statement of moderate size also travels in its nextUri (a "ticket" in the slug), so a poll
// that reaches another gateway replica (no shared state) can adopt it instead of failing. Tickets
// are deflated (SQL compresses several-fold) and sealed with AES-256-GCM under a key the replicas
// share (XTRINODE_GATEWAY_TICKET_KEY): nobody can read the SQL or session headers (extra
// credentials included) out of a URL in an access log, nor forge a ticket to run a statement past
// the rate limits. Without a shared key each replica seals with its own random key, and a held
// poll must reach the replica that holds it.
import type { OutgoingHttpHeaders } from "node:http";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { BackendResponse } from "../backend-http.ts";
import { BoundedMap } from "../bounded-map.ts";
import { gatewayErrors, type TrinoErrorKind } from "../trino-protocol.ts";
import type { StatementBody, StatementMemory } from "../statement-memory.ts";

/** A gateway error on a new statement, sealed into its failed nextUri: only its own user is shown the message. */
export interface SealedFailure {
  id: string;
  errorName: string;
  message: string;
  /** X-Trino-User of the statement ("" when it had none). */
  user: string;
  createdAtMs: number;
}

/** What another replica needs to run a held statement: its id, runtime, SQL, Trino session headers and owner. */
export interface HeldTicket {
  id: string;
  namespace: string;
  name: string;
  sql: string;
  headers: Record<string, string>;
  createdAtMs: number;
  /** The authenticated principal that submitted it ("" with authentication off). */
  principal: string;
}

const ticketPrefix = "e.";
/** Longest ticket put in a URI (URIs of a few KB pass every client and proxy). */
export const maxTicketChars = 6000;
/** A ticket never inflates beyond this. */
const maxTicketBytes = 1024 * 1024;
const ivBytes = 12;
const tagBytes = 16;
/** Shortest accepted XTRINODE_GATEWAY_TICKET_KEY. */
export const minTicketKeyChars = 32;

/** Session headers a ticket carries: the X-Trino-* request headers (never Authorization). */
export function ticketHeaders(headers: OutgoingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith("x-trino-") && value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}

/** Seals held statements into nextUri slugs and opens them again (any replica with the same key). */
export class TicketSealer {
  private readonly key: Buffer;
  /** True when the key came from configuration (shared by the replicas), false when random per process. */
  readonly shared: boolean;

  /** `secret`: XTRINODE_GATEWAY_TICKET_KEY (at least 32 characters), or undefined for a per-process key. */
  constructor(secret: string | undefined) {
    if (secret !== undefined && secret.length < minTicketKeyChars) {
      throw new Error(
        `XTRINODE_GATEWAY_TICKET_KEY: must be at least ${minTicketKeyChars} characters (e.g. \`openssl rand -base64 48\`), the same on every gateway replica`,
      );
    }
    this.shared = secret !== undefined;
    this.key = secret === undefined ? randomBytes(32) : createHash("sha256").update(secret, "utf8").digest();
  }

  /** The slug for a held statement: a sealed ticket when it fits, else a random (replica-local) slug. */
  slug(ticket: HeldTicket): string {
    const json = Buffer.from(
      JSON.stringify([ticket.id, ticket.namespace, ticket.name, ticket.sql, ticket.headers, ticket.createdAtMs, ticket.principal]),
      "utf8",
    );
    // base64url is 4/3 of the bytes: skip deflating what cannot fit even at a generous 10:1.
    if (json.length > maxTicketChars * 7.5) return randomBytes(16).toString("hex");
    const encoded = this.seal(json);
    return encoded.length <= maxTicketChars ? encoded : randomBytes(16).toString("hex");
  }

  /** The ticket in a slug; undefined when it is not one, was sealed with another key, or was tampered with. */
  open(slug: string): HeldTicket | undefined {
    const fields = this.unseal(slug);
    if (!fields) return undefined;
    const [id, namespace, name, sql, headers, createdAtMs, principal] = fields;
    if (
      typeof id !== "string" ||
      typeof namespace !== "string" ||
      typeof name !== "string" ||
      typeof sql !== "string" ||
      typeof createdAtMs !== "number" ||
      typeof principal !== "string"
    )
      return undefined;
    if (
      typeof headers !== "object" ||
      headers === null ||
      Object.entries(headers).some(([key, value]) => !key.startsWith("x-trino-") || typeof value !== "string")
    )
      return undefined;
    return { id, namespace, name, sql, headers: headers as Record<string, string>, createdAtMs, principal };
  }

  /** Seals a gateway failure for its nextUri (see answers.ts failNewStatement). */
  sealFailure(failure: SealedFailure): string {
    return this.seal(
      Buffer.from(JSON.stringify(["failure", failure.id, failure.errorName, failure.message, failure.user, failure.createdAtMs]), "utf8"),
    );
  }

  /** The failure sealed in `text` by a replica with this key; undefined when it is not one (or was tampered with). */
  openFailure(text: string): SealedFailure | undefined {
    const fields = this.unseal(text);
    if (!fields) return undefined;
    const [tag, id, errorName, message, user, createdAtMs] = fields;
    if (
      tag !== "failure" ||
      typeof id !== "string" ||
      typeof errorName !== "string" ||
      typeof message !== "string" ||
      typeof user !== "string" ||
      typeof createdAtMs !== "number"
    )
      return undefined;
    return { id, errorName, message, user, createdAtMs };
  }

  /** `e.` + base64url(iv, AES-256-GCM(raw deflate of `json`), tag). */
  private seal(json: Buffer): string {
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const sealed = Buffer.concat([iv, cipher.update(deflateRawSync(json)), cipher.final(), cipher.getAuthTag()]);
    return ticketPrefix + sealed.toString("base64url");
  }

  /** The JSON array sealed in `text`, or undefined. */
  private unseal(text: string): unknown[] | undefined {
    if (!text.startsWith(ticketPrefix) || text.length > maxTicketChars) return undefined;
    try {
      const sealed = Buffer.from(text.slice(ticketPrefix.length), "base64url");
      if (sealed.length <= ivBytes + tagBytes) return undefined;
      const decipher = createDecipheriv("aes-256-gcm", this.key, sealed.subarray(0, ivBytes));
      decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
      const deflated = Buffer.concat([decipher.update(sealed.subarray(ivBytes, sealed.length - tagBytes)), decipher.final()]);
      const fields = JSON.parse(inflateRawSync(deflated, { maxOutputLength: maxTicketBytes }).toString("utf8")) as unknown;
      return Array.isArray(fields) ? fields : undefined;
    } catch {
      return undefined;
    }
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
  /** The authenticated principal that submitted it ("" with authentication off): the only one that may poll or cancel it. */
  principal: string;
  lastPollMs: number;
  /** Set once a poll starts submitting the statement to the backend: settles when it is handed over or ended. */
  submission?: Promise<void>;
}

/** The first answer of a held statement this replica submitted, kept for a repeated hand-over poll by its principal. */
export interface HandOver {
  answer: BackendResponse;
  runtime: string;
  principal: string;
  atMs: number;
}

/** A held statement is known by its id AND its slug: ids are guessable, slugs are not. */
function keyOf(id: string, slug: string): string {
  return `${id}/${slug}`;
}

/** A shorter key for statements that ended: a ticket's first 48 characters hold its random IV. */
function endedKeyOf(id: string, slug: string): string {
  return `${id}/${slug.slice(0, 48)}`;
}

/** How a held statement ended (cancelled, dropped, failed, submitted): what a later poll of its nextUri is told. */
export interface HeldEnding {
  kind: TrinoErrorKind;
  message: string;
}

/** At most this many ended statements are remembered (each until its ticket is too old to adopt anyway). */
const maxEndedRecords = 100_000;

export class HeldQueries {
  private readonly held = new Map<string, HeldQuery>();
  /** The first answer of statements already submitted: a repeated hand-over poll gets it again instead of a second run. */
  private readonly handOvers: BoundedMap<string, HandOver>;
  /**
   * Statements that ended on this replica, until their ticket expires: a later poll of the same
   * nextUri (a retry, a replay) is told how it ended instead of adopting the ticket and running it again.
   */
  private readonly ended = new Map<string, HeldEnding & { expiresAtMs: number }>();
  readonly maxQueries: number;
  private readonly maxAgeMs: number;
  /** Held bodies count against the statement memory budget until they end. */
  private readonly memory: StatementMemory;

  constructor(maxQueries: number, maxAgeMs: number, memory: StatementMemory) {
    this.maxQueries = maxQueries;
    this.maxAgeMs = maxAgeMs;
    this.memory = memory;
    this.handOvers = new BoundedMap(maxQueries);
  }

  get size(): number {
    return this.held.size;
  }

  full(): boolean {
    return this.held.size >= this.maxQueries;
  }

  /**
   * Holds a statement. `charged`: the body as read within the memory budget (its bytes become held);
   * without it (a statement adopted from a ticket) the bytes are taken from the budget here, and
   * undefined is returned when they do not fit.
   */
  add(entry: Omit<HeldQuery, "lastPollMs">, charged?: StatementBody): HeldQuery | undefined {
    if (charged) charged.holdIn();
    else if (!this.memory.tryReserve("held", entry.body.length)) return undefined;
    const held = { ...entry, lastPollMs: Date.now() };
    this.held.set(keyOf(held.id, held.slug), held);
    return held;
  }

  get(id: string, slug: string): HeldQuery | undefined {
    return this.held.get(keyOf(id, slug));
  }

  /** Statements held under `id` (ids of different replicas may meet; the slug tells them apart). */
  withId(id: string): HeldQuery[] {
    return [...this.held.values()].filter((held) => held.id === id);
  }

  /** Whether `held` is still held (not cancelled, dropped or handed over meanwhile). */
  holds(held: HeldQuery): boolean {
    return this.held.get(keyOf(held.id, held.slug)) === held;
  }

  /** Ends a held statement: no longer held, and a later poll of its nextUri is told `ending`. */
  end(held: HeldQuery, ending: HeldEnding): void {
    if (this.holds(held)) this.memory.release("held", held.body.length);
    this.held.delete(keyOf(held.id, held.slug));
    const key = endedKeyOf(held.id, held.slug);
    this.ended.delete(key);
    this.ended.set(key, { ...ending, expiresAtMs: held.createdAtMs + this.maxAgeMs });
    if (this.ended.size > maxEndedRecords) this.ended.delete(this.ended.keys().next().value!);
  }

  /** How the statement with this id and slug ended on this replica, if it did. */
  ending(id: string, slug: string): HeldEnding | undefined {
    return this.ended.get(endedKeyOf(id, slug));
  }

  /** Records the backend's first answer to a held statement, which is no longer held. */
  handOver(held: HeldQuery, answer: BackendResponse, nowMs = Date.now()): void {
    this.end(held, {
      kind: gatewayErrors.queryNotFound,
      message: `query ${held.id} was already submitted to Trino; follow the nextUri of its answer, or run it again`,
    });
    this.handOvers.set(keyOf(held.id, held.slug), {
      answer,
      runtime: `${held.namespace}/${held.name}`,
      principal: held.principal,
      atMs: nowMs,
    });
  }

  /** The answer a statement got when this replica handed it over (its "namespace/name" and principal), if it did. */
  handedOver(id: string, slug: string): HandOver | undefined {
    return this.handOvers.peek(keyOf(id, slug));
  }

  perRuntime(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const held of this.held.values())
      counts.set(`${held.namespace}/${held.name}`, (counts.get(`${held.namespace}/${held.name}`) ?? 0) + 1);
    return counts;
  }

  /**
   * Ends statements nobody polled for `abandonAfterMs` (returned); forgets hand-over answers as old
   * and ended statements whose tickets expired.
   */
  sweep(nowMs: number, abandonAfterMs: number): HeldQuery[] {
    const dropped: HeldQuery[] = [];
    for (const held of this.held.values()) {
      if (!held.submission && nowMs - held.lastPollMs > abandonAfterMs) {
        this.end(held, {
          kind: gatewayErrors.queryNotFound,
          message: `query ${held.id} was dropped: its client stopped polling for ${Math.round(abandonAfterMs / 1000)} s; run it again`,
        });
        dropped.push(held);
      }
    }
    for (const [key, handed] of this.handOvers.entriesList()) if (nowMs - handed.atMs > abandonAfterMs) this.handOvers.delete(key);
    for (const [key, ended] of this.ended) if (ended.expiresAtMs < nowMs) this.ended.delete(key);
    return dropped;
  }
}
