// A pool of two Trino test servers (separate processes) behind the gateway; one is killed with
// SIGKILL while a query runs on it: that client gets a Trino error (no hang), and new queries
// avoid the dead backend within seconds.
import { expect } from "chai";
import path from "node:path";
import { BasicAuth, Trino, type QueryResult } from "trino-client";
import { coordinatorIdOf } from "../../gateway/query-id.ts";
import type { RunningGateway } from "../../gateway/server.ts";
import { RoutesFile, startTestGateway } from "../gateway/support/harness.ts";
import { eventually } from "../support/eventually.ts";
import { killAllChildren, repoRoot, spawnReady, type ChildUnderTest } from "../support/process.ts";

const trinoServerMain = path.join(repoRoot, "fixtures", "trino-server", "main.ts");
const SETTLE_BOUND_MS = 15_000;

/** Runs a query to the end with trino-client; a FAILED page or a thrown error both count as "settled with an error". */
async function settle(
  trino: Trino,
  sql: string,
  onFirstPage?: (page: QueryResult) => void,
): Promise<{ id: string; error?: string; rows: number }> {
  const outcome = { id: "", error: undefined as string | undefined, rows: 0 };
  const bounded = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`query did not settle within ${SETTLE_BOUND_MS} ms`)), SETTLE_BOUND_MS).unref(),
  );
  const run = (async () => {
    try {
      const iterator = await trino.query(sql);
      for (;;) {
        const { value, done } = await iterator.next();
        if (value?.id && !outcome.id) {
          outcome.id = value.id;
          onFirstPage?.(value);
        }
        if (value?.error) outcome.error = `${value.error.errorName}: ${value.error.message}`;
        // The iterator repeats the last page as its `done` value: count rows of pages only.
        if (done || value?.error) return outcome;
        outcome.rows += value?.data?.length ?? 0;
      }
    } catch (error) {
      outcome.error = `thrown: ${(error as Error).message}`;
      return outcome;
    }
  })();
  return Promise.race([run, bounded]);
}

describe("failure: a pool backend killed mid-query", function () {
  this.timeout(60_000);
  let servers: ChildUnderTest[];
  let routes: RoutesFile;
  let gateway: RunningGateway;

  before(async () => {
    // Slow pages: a 40-row result at 5 rows per page and 150 ms per page keeps a query running ~1 s.
    servers = await Promise.all(
      ["p1", "p2"].map((name) =>
        spawnReady(trinoServerMain, [
          "--port",
          "0",
          "--host",
          "127.0.0.1",
          "--name",
          name,
          "--rows-per-page",
          "5",
          "--page-delay-ms",
          "150",
        ]),
      ),
    );
    routes = new RoutesFile();
    routes.write(
      servers.map((server, i) => ({
        namespace: "shared",
        name: `p${i + 1}`,
        backend: String(server.ready.url),
        state: "RUNNING",
        pool: "shared",
      })),
    );
    gateway = await startTestGateway(routes);
    await eventually("both backends healthy", () =>
      servers.every((server) => gateway.core.backends.state(String(server.ready.url)).health === "healthy"),
    );
  });
  after(async () => {
    await gateway?.close();
    await killAllChildren();
    routes?.remove();
  });

  const client = () => Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "shared" } });
  const ownerOf = (id: string) => servers.findIndex((server) => server.ready.coordinatorId === coordinatorIdOf(id));

  it("the in-flight client gets a Trino error, and new queries avoid the dead backend within seconds", async () => {
    // Start queries until one lands on each backend, then kill the owner of one while it runs.
    let victim = -1;
    let killed: Promise<void> | undefined;
    const inFlight = [];
    for (let i = 0; i < 2; i++) {
      inFlight.push(
        settle(client(), "SELECT * FROM xt_rows(40)", (page) => {
          const owner = ownerOf(page.id);
          if (victim === -1 && owner >= 0) {
            victim = owner;
            killed = servers[owner].kill("SIGKILL");
          }
        }),
      );
    }
    const outcomes = await Promise.all(inFlight);
    await killed;
    expect(victim).to.be.oneOf([0, 1]);
    const survivor = 1 - victim;
    const onVictim = outcomes.filter((outcome) => ownerOf(outcome.id) === victim);
    const onSurvivor = outcomes.filter((outcome) => ownerOf(outcome.id) === survivor);
    expect(onVictim.length, JSON.stringify(outcomes)).to.be.at.least(1);
    for (const outcome of onVictim) {
      expect(outcome.error, "the query on the killed backend fails").to.be.a("string");
      expect(outcome.error).to.match(/^XTRINODE_[A-Z_]+: .+/);
      expect(outcome.error).to.not.match(/^thrown/);
    }
    for (const outcome of onSurvivor) expect(outcome, "the query on the surviving backend").to.deep.include({ error: undefined, rows: 40 });
    process.stdout.write(`      killed p${victim + 1}; its client got: ${onVictim.map((outcome) => outcome.error).join(" | ")}\n`);

    // New queries: within a deadline the gateway stops choosing the dead backend (ejection).
    await eventually(
      "new queries to avoid the dead backend",
      async () => {
        const outcome = await settle(client(), "SELECT 1");
        return (
          outcome.error === undefined &&
          ownerOf(outcome.id) === survivor &&
          gateway.core.backends.state(String(servers[victim].ready.url)).health !== "healthy"
        );
      },
      10_000,
    );
    const after = [];
    for (let i = 0; i < 10; i++) after.push(await settle(client(), "SELECT 1"));
    for (const outcome of after) {
      expect(outcome.error).to.equal(undefined);
      expect(ownerOf(outcome.id)).to.equal(survivor);
    }
  });
});
