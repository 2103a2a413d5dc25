// Statements held by the gateway while their runtime resumes. Bounded in count; each is dropped
// when its client stops polling, cancels, or it outlives the maximum age.
import type { OutgoingHttpHeaders } from "node:http";
import { randomBytes } from "node:crypto";

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

  add(entry: Omit<HeldQuery, "slug" | "lastPollMs">): HeldQuery {
    const held = { ...entry, slug: randomBytes(12).toString("hex"), lastPollMs: entry.createdAtMs };
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
