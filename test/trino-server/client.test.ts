// The Trino protocol test server driven by the real trino-client (trinodb/trino-js-client).
import { expect } from "chai";
import { BasicAuth, Trino, type QueryResult } from "trino-client";
import { startTrinoTestServer, QUERY_ID_PATTERN, type TrinoTestServer } from "../../fixtures/trino-server/index.ts";
import { useTrinoTestServer } from "./support.ts";

/** All pages a query yields (trino-client skips empty intermediate pages). */
async function pagesOf(trino: Trino, sql: string): Promise<QueryResult[]> {
  const pages: QueryResult[] = [];
  for await (const page of await trino.query(sql)) pages.push(page);
  return pages;
}

function client(server: TrinoTestServer, extra: Partial<Parameters<typeof Trino.create>[0]> = {}): Trino {
  return Trino.create({ server: server.url, catalog: "tpch", schema: "tiny", auth: new BasicAuth("alice"), ...extra });
}

describe("Trino protocol test server with trino-client", function () {
  this.timeout(20_000);
  const current = useTrinoTestServer();
  let server: TrinoTestServer;
  beforeEach(() => {
    server = current();
  });

  it("returns tpch.tiny.nation in several pages with Trino type signatures", async () => {
    const pages = await pagesOf(client(server), "SELECT * FROM tpch.tiny.nation");
    expect(pages.length).to.equal(3);
    const rows = pages.flatMap((page) => page.data ?? []);
    expect(rows).to.have.length(25);
    expect(rows.map((row) => row[0])).to.deep.equal([...Array(25).keys()]);
    expect(rows[2][1]).to.equal("BRAZIL");
    expect(pages[0].columns?.map((column) => column.type)).to.deep.equal(["bigint", "varchar(25)", "bigint", "varchar(152)"]);
    expect(pages.at(-1)?.stats?.state).to.equal("FINISHED");
    expect(pages.at(-1)?.nextUri).to.equal(undefined);
    expect(server.stats.statements).to.equal(1);
  });

  it("streams a generated result of many pages and counts every poll", async () => {
    const pages = await pagesOf(client(server), "SELECT n FROM UNNEST(sequence(1, 95)) AS t(n)");
    const values = pages.flatMap((page) => (page.data ?? []).map((row) => row[0] as number));
    expect(values).to.deep.equal(Array.from({ length: 95 }, (_, i) => i + 1));
    expect(pages).to.have.length(10);
    const [id] = server.queryIds();
    // queued/1 + executing/0..9
    expect(server.query(id)?.polls).to.equal(11);
    const more = await pagesOf(client(server), "select * from xt_rows(1000);");
    expect(more.flatMap((page) => page.data ?? [])).to.have.length(1000);
  });

  it("issues query ids in Trino's format with this coordinator's fixed id and a counter", async () => {
    await pagesOf(client(server), "SELECT 1");
    await pagesOf(client(server), "SELECT 2");
    const ids = server.queryIds();
    expect(ids).to.have.length(2);
    for (const id of ids) {
      expect(id).to.match(QUERY_ID_PATTERN);
      expect(id.split("_")[3]).to.equal(server.coordinatorId);
    }
    expect(server.coordinatorId).to.match(/^[a-km-np-z2-9]{5}$/);
    const other = await startTrinoTestServer();
    try {
      // A different coordinator process: a different id (1 in 32^5 chance of a clash).
      expect(other.coordinatorId).to.not.equal(server.coordinatorId);
    } finally {
      await other.close();
    }
    expect(new Set(ids).size).to.equal(2);
    const [a, b] = ids.map((id) => id.split("_"));
    // The counter restarts each second; within one second it increments.
    if (a[0] === b[0] && a[1] === b[1]) expect(Number(b[2])).to.equal(Number(a[2]) + 1);
  });

  it("reports errors as Trino error objects", async () => {
    const [division] = await pagesOf(client(server), "SELECT 1/0");
    expect(division.stats?.state).to.equal("FAILED");
    expect(division.error).to.include({
      errorName: "DIVISION_BY_ZERO",
      errorCode: 8,
      errorType: "USER_ERROR",
      message: "Division by zero",
    });
    expect(division.error?.failureInfo?.type).to.be.a("string");
    const [syntax] = await pagesOf(client(server), "SELEKT 1");
    expect(syntax.error).to.include({ errorName: "SYNTAX_ERROR", errorCode: 1 });
    expect(syntax.error?.message).to.match(/^line 1:1: mismatched input 'SELEKT'/);
    expect((syntax.error as { errorLocation?: unknown } | undefined)?.errorLocation).to.deep.equal({ lineNumber: 1, columnNumber: 1 });
    const [failed] = await pagesOf(client(server), "SELECT fail('custom message')");
    expect(failed.error).to.include({ errorName: "GENERIC_USER_ERROR", message: "custom message" });
    const [missingTable] = await pagesOf(client(server), "SELECT * FROM tpch.sf1.nation");
    expect(missingTable.error).to.include({
      errorName: "TABLE_NOT_FOUND",
      errorCode: 46,
      message: "line 1:15: Table 'tpch.sf1.nation' does not exist",
    });
  });

  it("applies SET SESSION and USE to the client's following requests", async () => {
    const trino = client(server, { catalog: undefined, schema: undefined });
    const [missing] = await pagesOf(trino, "SELECT * FROM nation");
    expect(missing.error).to.include({ errorName: "MISSING_CATALOG_NAME", errorCode: 56 });
    await pagesOf(trino, "USE tpch.tiny");
    await pagesOf(trino, "SET SESSION query_max_run_time = '5m'");
    const pages = await pagesOf(trino, "SELECT * FROM nation");
    expect(pages.flatMap((page) => page.data ?? [])).to.have.length(25);
    const last = server.queryIds().at(-1)!;
    expect(server.query(last)?.headers).to.include({
      "x-trino-catalog": "tpch",
      "x-trino-schema": "tiny",
      "x-trino-session": "query_max_run_time=5m",
    });
    expect(server.query(last)?.user).to.equal("alice");
    const catalogs = await pagesOf(trino, "SHOW CATALOGS");
    expect(catalogs.flatMap((page) => page.data ?? [])).to.deep.equal([["system"], ["tpch"]]);
  });

  it("cancels a running query: later polls answer USER_CANCELED", async () => {
    const trino = client(server);
    const iterator = await trino.query("SELECT sleep_ms(60000)");
    const [id] = server.queryIds();
    expect(server.query(id)?.state).to.equal("QUEUED");
    await trino.cancel(id);
    const first = await iterator.next();
    expect(first.value.stats?.state).to.equal("FAILED");
    expect(first.value.error).to.include({ errorName: "USER_CANCELED", errorCode: 3 });
    expect(server.query(id)).to.include({ state: "FAILED", canceled: true });
    expect(server.stats.cancels).to.equal(1);
  });

  it("injected 5xx fails one request, then queries succeed again", async () => {
    server.setFault({ status: 502, count: 1, pathPrefix: "/v1/statement/" });
    let failure: unknown;
    try {
      await pagesOf(client(server), "SELECT 1");
    } catch (error) {
      failure = error;
    }
    expect(String(failure)).to.match(/502/);
    expect(server.stats.faultsInjected).to.equal(1);
    const pages = await pagesOf(client(server), "SELECT 1");
    expect(pages.flatMap((page) => page.data ?? [])).to.deep.equal([[1]]);
  });

  it("serves many concurrent queries", async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => pagesOf(client(server), `SELECT ${i}`)));
    expect(results.map((pages) => pages.flatMap((page) => page.data ?? [])[0][0])).to.deep.equal([...Array(100).keys()]);
    expect(new Set(server.queryIds()).size).to.equal(100);
  });
});
