// The follow-up load of bench/gateway (CPU phase and profile-follow-up.ts), as autocannon requests:
// each connection POSTs one `SELECT 1` and then polls that query's first nextUri again and again
// (the Trino protocol test server answers a repeated token with the same page, as Trino does).

/** The nextUri in a Trino QueryResults body. */
const NEXT_URI = /"nextUri":"([^"]+)"/;

/**
 * The follow-up load: a POST, then polls of its first nextUri. autocannon clears a connection's
 * context each time it wraps around its request list, so the list is long: one POST per
 * FOLLOW_UPS_PER_POST polls.
 */
export const FOLLOW_UPS_PER_POST = 1000;
export const followUpRequests = [
  {
    method: "POST",
    path: "/v1/statement",
    body: "SELECT 1",
    onResponse: (_status: number, body: string, context: Record<string, unknown>) => {
      const match = NEXT_URI.exec(body);
      context.poll = match ? match[1].replace(/^https?:\/\/[^/]+/, "") : undefined;
    },
  },
  ...Array.from({ length: FOLLOW_UPS_PER_POST }, () => ({
    setupRequest: (req: any, context: Record<string, unknown>) =>
      typeof context.poll === "string" ? { ...req, method: "GET", path: context.poll, body: undefined } : null,
  })),
];
