// `xtrinode status`, pure part: rows from live XTrinodes and the gateway's status, kubectl-style
// durations and table layout, and the CRD printer columns speaking the same vocabulary.
import { expect } from "chai";
import { xtrinodePrinterColumns } from "../../schemas/printer-columns.ts";
import type { GatewayStatus } from "../../schemas/generated/types.ts";
import {
  formatTable,
  humanDuration,
  renderStatusTable,
  statusRows,
  tableCells,
  tableHeaders,
  type LiveXTrinode,
} from "../../status/table.ts";

const now = Date.parse("2026-12-03T12:00:00Z");
const at = (minutesBefore: number) => new Date(now - minutesBefore * 60_000).toISOString();

function runtime(
  name: string,
  spec: LiveXTrinode["spec"],
  status: LiveXTrinode["status"],
  annotations: Record<string, string> = {},
): LiveXTrinode {
  return {
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "XTrinode",
    metadata: { name, namespace: "team-a", annotations, creationTimestamp: at(60 * 26) },
    spec,
    status,
  };
}

describe("xtrinode status table (pure)", () => {
  it("prints durations as kubectl does", () => {
    expect(
      [0, 59, 119, 120, 125, 600, 3599, 3 * 3600, 4 * 3600 + 600, 30 * 3600, 50 * 3600, 9 * 86400, 800 * 86400, 3000 * 86400].map(
        humanDuration,
      ),
    ).to.deep.equal(["0s", "59s", "119s", "2m", "2m5s", "10m", "59m", "3h", "4h10m", "30h", "2d2h", "9d", "2y70d", "8y"]);
  });

  it("workers: ready/desired and the mode; zero desired while asleep", () => {
    const rows = statusRows(
      [
        runtime("fixed", { workers: { count: 3 } }, { phase: "Ready", workers: 2 }),
        runtime("keda", { workers: { mode: "keda", min: 1, max: 8 } }, { phase: "Ready", workers: 1 }),
        runtime("asleep", { workers: { count: 3 } }, { phase: "Suspended", workers: 0 }),
        runtime("defaults", {}, undefined),
      ],
      undefined,
      now,
    );
    expect(rows.map((row) => `${row.name} ${row.workers.ready}/${row.workers.desired} ${row.workers.mode}`)).to.deep.equal([
      "asleep 0/0 fixed",
      "defaults 0/1 fixed",
      "fixed 2/3 fixed",
      "keda 1/1-8 keda",
    ]);
  });

  it("wake TTL left follows the operator's idle rule (latest of activity, resume request, readySince)", () => {
    const rows = statusRows(
      [
        runtime(
          "active",
          { lifecycle: { wakeTTL: "30m" } },
          { phase: "Ready", readySince: at(120) },
          { "xtrinode.io/last-activity": at(10) },
        ),
        runtime(
          "resumed",
          { lifecycle: { wakeTTL: "1h" } },
          { phase: "Ready", readySince: at(120) },
          { "xtrinode.io/resume-requested-at": at(5), "xtrinode.io/last-activity": at(90) },
        ),
        runtime("due", { lifecycle: { wakeTTL: "15m" } }, { phase: "Ready", readySince: at(20) }),
        runtime("forever", {}, { phase: "Ready", readySince: at(20) }),
        runtime("sleeping", { lifecycle: { wakeTTL: "15m" } }, { phase: "Suspended" }),
      ],
      undefined,
      now,
    );
    const cell = (name: string) =>
      tableCells(
        rows.find((row) => row.name === name)!,
        { allNamespaces: false, wide: false },
      )[7];
    expect([cell("active"), cell("resumed"), cell("due"), cell("forever"), cell("sleeping")]).to.deep.equal([
      "20m",
      "55m",
      "0s",
      "never",
      "-",
    ]);
    expect(
      tableCells(
        rows.find((row) => row.name === "active")!,
        { allNamespaces: false, wide: false },
      )[6],
    ).to.equal("10m ago");
  });

  it("joins the gateway's counts by namespace/name: a runtime the gateway does not route has 0, no gateway leaves them blank", () => {
    const gateway: GatewayStatus = {
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "GatewayStatus",
      generatedAt: new Date(now).toISOString(),
      routes: { generation: 3, lastGoodAgeSeconds: 5, invalidUpdates: 0, rejectedSinceLastGood: 0 },
      held: { count: 4, max: 1000 },
      inFlight: { count: 2 },
      runtimes: [
        {
          namespace: "team-a",
          name: "a",
          routeState: "PAUSED",
          backend: "http://a-trino.team-a.svc.cluster.local:8080",
          heldQueries: 4,
          inFlightQueries: 2,
        },
      ],
      backends: [],
    };
    const runtimes = [runtime("a", {}, { phase: "Suspended" }), runtime("b", {}, { phase: "Pending" })];
    const options = { allNamespaces: false, wide: false };
    expect(statusRows(runtimes, gateway, now).map((row) => tableCells(row, options).slice(4, 6))).to.deep.equal([
      ["4", "2"],
      ["0", "0"],
    ]);
    expect(statusRows(runtimes, undefined, now).map((row) => tableCells(row, options).slice(4, 6))).to.deep.equal([
      ["", ""],
      ["", ""],
    ]);
  });

  it("wide: conditions that are not True with their reasons, hostnames, pool and the route backend", () => {
    const [row] = statusRows(
      [
        runtime(
          "x",
          { route: { hostnames: ["x.example.com", "y.example.com"], pool: "p" } },
          {
            phase: "Error",
            conditions: [
              { type: "Ready", status: "False", reason: "ApplyRejected" },
              { type: "CatalogsResolved", status: "True" },
              { type: "SecretsResolved", status: "Unknown" },
            ],
          },
        ),
      ],
      undefined,
      now,
    );
    expect(tableCells(row, { allNamespaces: true, wide: true }).slice(-4)).to.deep.equal([
      "Ready=False:ApplyRejected,SecretsResolved=Unknown",
      "x.example.com,y.example.com",
      "p",
      "http://x-trino.team-a.svc.cluster.local:8080",
    ]);
  });

  it("lays out columns like kubectl and says when nothing is found", () => {
    expect(
      formatTable(
        ["A", "LONG HEADER", "C"],
        [
          ["value", "x", ""],
          ["v", "yy", "z"],
        ],
      ),
    ).to.equal("A       LONG HEADER   C\nvalue   x\nv       yy            z\n");
    expect(renderStatusTable([], { allNamespaces: false, wide: false }, "team-a")).to.equal("No XTrinodes found in team-a namespace.\n");
  });

  it("the XTrinode CRD printer columns use the status table's words", () => {
    const headers = tableHeaders({ allNamespaces: true, wide: true });
    for (const column of xtrinodePrinterColumns()) expect(headers, column.name).to.include(column.name.toUpperCase());
  });
});
