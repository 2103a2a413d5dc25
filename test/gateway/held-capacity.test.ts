// held.maxQueries bounds the statements a gateway process holds, however they arrive: many new
// statements at once, and polls that would adopt another replica's sealed ticket.
import { expect } from "chai";
import type { RunningGateway } from "../../gateway/server.ts";
import { RoutesFile, startTestGateway } from "./support/harness.ts";

const ticketKey = "held-capacity-test-key-0123456789abcdef";

async function post(url: string, sql: string): Promise<{ id: string; nextUri: string }> {
  const response = await fetch(`${url}/v1/statement`, { method: "POST", headers: { "x-trino-user": "alice" }, body: sql });
  expect(response.status).to.equal(200);
  return (await response.json()) as { id: string; nextUri: string };
}

describe("gateway held.maxQueries", function () {
  this.timeout(30_000);
  let routes: RoutesFile;
  const gateways: RunningGateway[] = [];

  beforeEach(() => {
    routes = new RoutesFile();
    // RESUMING and no lifecycle API: every statement is held, none is ever released.
    routes.write([{ namespace: "team-a", name: "sleepy", backend: "http://127.0.0.1:9", state: "RESUMING", default: true }]);
  });
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
    routes.remove();
  });

  it("holds at most held.maxQueries of many concurrent new statements and refuses the rest with XTRINODE_TOO_MANY_HELD_QUERIES", async () => {
    const gateway = await startTestGateway(routes, { held: { maxQueries: 3, pollWaitMs: 100 } });
    gateways.push(gateway);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => post(gateway.url, `SELECT ${i}`)));
    const held = answers.filter((answer) => !answer.nextUri.includes("/failed/"));
    const refused = answers.filter((answer) => answer.nextUri.includes("/failed/XTRINODE_TOO_MANY_HELD_QUERIES~"));
    expect(held).to.have.length(3);
    expect(refused).to.have.length(9);
    expect(gateway.core.held.size).to.equal(3);
    // Polling a held one keeps it (QUEUED); the count does not move.
    const poll = (await (await fetch(held[0].nextUri, { headers: { "x-trino-user": "alice" } })).json()) as { stats: { state: string } };
    expect(poll.stats.state).to.equal("QUEUED");
    expect(gateway.core.held.size).to.equal(3);
  });

  it("does not adopt another replica's ticket past held.maxQueries", async () => {
    const a = await startTestGateway(
      routes,
      { held: { maxQueries: 10, pollWaitMs: 100 } },
      { env: { XTRINODE_GATEWAY_TICKET_KEY: ticketKey } },
    );
    const b = await startTestGateway(
      routes,
      { held: { maxQueries: 1, pollWaitMs: 100 } },
      { env: { XTRINODE_GATEWAY_TICKET_KEY: ticketKey } },
    );
    gateways.push(a, b);
    const fromA = await Promise.all([post(a.url, "SELECT 1"), post(a.url, "SELECT 2")]);
    await post(b.url, "SELECT 3"); // b is now full
    expect(b.core.held.size).to.equal(1);
    for (const answer of fromA) {
      const onB = new URL(answer.nextUri);
      const poll = (await (await fetch(`${b.url}${onB.pathname}`, { headers: { "x-trino-user": "alice" } })).json()) as {
        error?: { errorName: string };
      };
      expect(poll.error?.errorName).to.equal("XTRINODE_TOO_MANY_HELD_QUERIES");
    }
    expect(b.core.held.size).to.equal(1);
  });
});
