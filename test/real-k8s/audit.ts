// Reads the kube-apiservers' JSON audit logs (one file per API server; the tier's policy logs every request
// of the components under test at Metadata level, see harness.ts) and counts writes by verb, resource and user. Marks let a test
// count only what happened after a point.
import { existsSync, readFileSync } from "node:fs";

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number; message?: string; reason?: string };
  stageTimestamp: string;
  /** Index of the API server whose log holds it. */
  server: number;
}

export const writeVerbs = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** Byte offsets into each audit file. */
export type AuditMark = number[];

export interface WriteFilter {
  user?: string | ((username: string) => boolean);
  resource?: string;
  /** Subresource, "" for the main resource. */
  subresource?: string;
  namespace?: string;
  name?: string | ((name: string) => boolean);
  verb?: string;
  /** Only answers in 2xx (what changed something, or an apply that was accepted). */
  succeeded?: boolean;
}

function matches<T>(want: T | ((value: T) => boolean) | undefined, value: T): boolean {
  if (want === undefined) return true;
  return typeof want === "function" ? (want as (value: T) => boolean)(value) : want === value;
}

export class AuditLog {
  readonly files: string[];

  constructor(files: string[]) {
    this.files = files;
  }

  mark(): AuditMark {
    return this.files.map((file) => (existsSync(file) ? readFileSync(file).length : 0));
  }

  /** Every ResponseComplete event (after `since`, when given), in time order. */
  events(since?: AuditMark): AuditEvent[] {
    const events: AuditEvent[] = [];
    this.files.forEach((file, server) => {
      if (!existsSync(file)) return;
      const text = readFileSync(file)
        .subarray(since?.[server] ?? 0)
        .toString("utf8");
      for (const line of text.split("\n")) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as AuditEvent;
        if (event.stage === "ResponseComplete" || event.stage === "Panic") events.push({ ...event, server });
      }
    });
    return events.sort((a, b) => a.stageTimestamp.localeCompare(b.stageTimestamp));
  }

  writes(filter: WriteFilter = {}, since?: AuditMark): AuditEvent[] {
    return this.events(since).filter((event) => {
      if (!writeVerbs.has(event.verb)) return false;
      const ref = event.objectRef ?? {};
      const code = event.responseStatus?.code ?? 0;
      return (
        matches(filter.user, event.user.username) &&
        matches(filter.resource, ref.resource ?? "") &&
        matches(filter.subresource, ref.subresource ?? "") &&
        matches(filter.namespace, ref.namespace ?? "") &&
        matches(filter.name, ref.name ?? "") &&
        matches(filter.verb, event.verb) &&
        (filter.succeeded === undefined || (code >= 200 && code < 300) === filter.succeeded)
      );
    });
  }

  /** Requests of `user` the API server refused as Forbidden (RBAC), reads included. */
  denials(user: string, since?: AuditMark): AuditEvent[] {
    return this.events(since).filter((event) => event.user.username === user && event.responseStatus?.code === 403);
  }

  /** Resolves once no new write arrived for `quietMs` (entries are written as responses complete; reads never pause). */
  async settled(quietMs = 500, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = this.writes().length;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      const now = this.writes().length;
      if (now === last || Date.now() > deadline) return;
      last = now;
    }
  }
}

/** "user verb group/resource[/subresource] → count", for assertion messages and bench/RESULTS.md. */
export function countWrites(events: AuditEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) {
    const ref = event.objectRef ?? {};
    const key = `${event.user.username} ${event.verb} ${ref.apiGroup || "core"}/${ref.resource ?? "?"}${ref.subresource ? `/${ref.subresource}` : ""} ${event.responseStatus?.code ?? "?"}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
