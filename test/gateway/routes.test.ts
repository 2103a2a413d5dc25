// Routes sources and last-good handling: a file that changes (valid → applied within 1 s;
// invalid YAML, schema violations or no entries → last-good kept, logged, counted in metrics).
import { expect } from "chai";
import { silentLogger } from "../../lib/logger.ts";
import { parseRoutes, RoutesReader } from "../../gateway/routes-reader.ts";
import { RoutesFile, startTestGateway } from "./support/harness.ts";
import { eventually } from "../support/eventually.ts";
import type { RunningGateway } from "../../gateway/server.ts";

const entry = (name: string, state = "RUNNING") => ({ namespace: "team-a", name, backend: `http://127.0.0.1:1`, state });

describe("gateway routes", () => {
  it("parses a valid document and names the field of an invalid one", () => {
    expect(parseRoutes("apiVersion: xtrinode.io/v1alpha1\nkind: GatewayRoutes\nroutes: []\n")).to.deep.include({
      ok: false,
      reason: "no route entries",
    });
    const invalid = parseRoutes(
      "apiVersion: xtrinode.io/v1alpha1\nkind: GatewayRoutes\nroutes:\n- {name: a, namespace: b, backend: 'ftp://x', state: RUNNING}\n",
    );
    expect(invalid.ok).to.equal(false);
    expect(!invalid.ok && invalid.reason).to.contain("routes[0].backend");
    expect(parseRoutes("routes: [").ok).to.equal(false);
  });

  it("keeps the last-good table and counts rejected updates", () => {
    const store = new RoutesReader(silentLogger());
    const good = `apiVersion: xtrinode.io/v1alpha1\nkind: GatewayRoutes\nroutes:\n- ${JSON.stringify(entry("a"))}\n`;
    expect(store.apply(good, "test")).to.equal(true);
    expect(store.apply("{{{ not yaml", "test")).to.equal(false);
    expect(store.apply("apiVersion: xtrinode.io/v1alpha1\nkind: GatewayRoutes\nroutes: []\n", "test")).to.equal(false);
    expect(store.generation).to.equal(1);
    expect(store.invalidUpdates).to.equal(2);
    expect([...store.table.byKey.keys()]).to.deep.equal(["team-a/a"]);
  });

  describe("from a watched file", () => {
    let routes: RoutesFile;
    let gateway: RunningGateway;
    before(async () => {
      routes = new RoutesFile();
      routes.write([entry("a") as never]);
      gateway = await startTestGateway(routes);
    });
    after(async () => {
      await gateway.close();
      routes.remove();
    });

    it("applies a valid change, and keeps last-good (with metrics) on invalid YAML", async () => {
      expect(gateway.core.routes.generation).to.equal(1);
      routes.write([entry("a") as never, entry("b") as never]);
      await eventually("the valid update", () => gateway.core.routes.table.byKey.has("team-a/b"));
      routes.writeText("routes: [ {{ this is not yaml");
      await eventually("the invalid update to be seen", () => gateway.core.routes.invalidUpdates === 1);
      expect([...gateway.core.routes.table.byKey.keys()]).to.deep.equal(["team-a/a", "team-a/b"]);
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).to.match(/^xtrinode_gateway_routes_generation 2$/m);
      expect(metrics).to.match(/^xtrinode_gateway_routes_invalid_updates 1$/m);
      expect(metrics).to.match(/^xtrinode_gateway_routes_last_good_age_seconds \d/m);
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).to.equal(200);
    });
  });
});
