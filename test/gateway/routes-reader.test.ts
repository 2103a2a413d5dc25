import { expect } from "chai";
import { RoutesReader } from "../../gateway/routes-reader.ts";
import { silentLogger } from "../../lib/logger.ts";

const header = "apiVersion: xtrinode.io/v1alpha1\nkind: GatewayRoutes\n";
const oneRoute = `${header}routes:\n  - { name: a, namespace: team-a, backend: "http://a:8080", state: RUNNING }\n`;
const noRoutes = `${header}routes: []\n`;

describe("RoutesReader and empty route documents", () => {
  it("accepts an empty first document (fresh install: ready, no runtimes)", () => {
    const store = new RoutesReader(silentLogger());
    expect(store.apply(noRoutes, "test")).to.equal(true);
    expect(store.generation).to.equal(1);
    expect(store.table.byKey.size).to.equal(0);
  });

  it("keeps last-good routes when a later document has no entries", () => {
    const store = new RoutesReader(silentLogger());
    expect(store.apply(oneRoute, "test")).to.equal(true);
    expect(store.apply(noRoutes, "test")).to.equal(false);
    expect(store.invalidUpdates).to.equal(1);
    expect([...store.table.byKey.keys()]).to.deep.equal(["team-a/a"]);
  });
});
