// The routes ConfigMap (and, separately, the routes file) is corrupted over and over (bad YAML, schema violations, empty routes, a
// missing data key) while the gateway serves a bounded load of trino-client queries: every query
// succeeds on the backend of the last-good routes, and the invalid-update metric counts the
// corruptions the gateway saw.
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { BasicAuth, Trino } from "trino-client";
import { startKubeApiServer, type KubeApiTestServer } from "../../fixtures/kube-api-server/index.ts";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/index.ts";
import { coordinatorIdOf } from "../../gateway/query-id.ts";
import { configMapRoutesSource } from "../../gateway/routes-source.ts";
import { defaultGatewayNamespace, routesConfigMapName, routesDataKey } from "../../schemas/api/index.ts";
import { startGateway, type RunningGateway } from "../../gateway/server.ts";
import { silentLogger } from "../../lib/logger.ts";
import { createClusterClient, type ClusterClient } from "../../reconciler/kube-client.ts";
import { RoutesFile, runQuery, startTestGateway } from "../gateway/support/harness.ts";
import { eventually } from "../support/eventually.ts";
import { metricValue, scrapeMetrics } from "../support/metrics-text.ts";
import { malformedRoutes, validRoutesText } from "../fuzz/spec-mutations.ts";
import { createRng, testSeed } from "../support/rng.ts";

const namespace = defaultGatewayNamespace;
const QUERIES = 300;
const CONCURRENCY = 10;

describe("failure: routes ConfigMap corrupted under gateway load", function () {
  this.timeout(60_000);
  let kube: KubeApiTestServer;
  let client: ClusterClient;
  let alpha: TrinoTestServer;
  let beta: TrinoTestServer;
  let gateway: RunningGateway;

  before(async () => {
    kube = await startKubeApiServer();
    client = createClusterClient(kube.kubeConfig());
    [alpha, beta] = await Promise.all([startTrinoTestServer({ name: "alpha" }), startTrinoTestServer({ name: "beta" })]);
    await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    const text = validRoutesText(["alpha", "beta"], (name) => (name === "alpha" ? alpha.url : beta.url));
    await client.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: routesConfigMapName, namespace },
      data: { [routesDataKey]: text },
    });
    const logger = silentLogger();
    gateway = await startGateway({
      routesSource: configMapRoutesSource(kube.kubeConfig(), namespace, logger),
      port: 0,
      host: "127.0.0.1",
      env: {},
      logger,
    });
    await eventually("the first routes", () => gateway.core.routes.generation === 1);
  });
  after(async () => {
    await gateway?.close();
    await Promise.all([alpha?.close(), beta?.close()]);
    await kube?.close();
  });

  it(`serves ${QUERIES} queries with zero failures while the ConfigMap is corrupted repeatedly`, async () => {
    const rng = createRng(testSeed("routes corruption"));
    let corruptions = 0;
    let stop = false;
    const corrupter = (async () => {
      while (!stop) {
        const live = await client.get({ apiVersion: "v1", kind: "ConfigMap", namespace, name: routesConfigMapName });
        // One in five: the data key itself disappears (an empty ConfigMap); else a malformed document.
        const data = rng.chance(0.2) ? {} : { [routesDataKey]: malformedRoutes(rng).text };
        await client.replace({ ...live!, data });
        corruptions++;
        await new Promise((resolve) => setTimeout(resolve, rng.int(5, 40)));
      }
    })();

    const outcomes: Array<{ runtime: string; served?: string; error?: string }> = [];
    let next = 0;
    const worker = async () => {
      while (next < QUERIES) {
        const index = next++;
        const runtime = index % 2 === 0 ? "alpha" : "beta";
        const trino = Trino.create({
          server: gateway.url,
          auth: new BasicAuth("load"),
          extraHeaders: { "X-Trino-XTrinode": `team-a/${runtime}` },
        });
        try {
          const pages = await runQuery(trino, "SELECT n FROM xt_rows(3)");
          const id = pages.find((page) => page.id)?.id ?? "";
          outcomes.push({ runtime, served: [alpha, beta].find((server) => server.coordinatorId === coordinatorIdOf(id))?.name });
        } catch (error) {
          outcomes.push({ runtime, error: (error as Error).message });
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      stop = true;
      await corrupter;
    }

    const failures = outcomes.filter((outcome) => outcome.error);
    expect(failures, JSON.stringify(failures.slice(0, 5))).to.deep.equal([]);
    expect(outcomes).to.have.length(QUERIES);
    for (const outcome of outcomes) expect(outcome.served, `query for ${outcome.runtime}`).to.equal(outcome.runtime);
    expect(corruptions).to.be.at.least(5);

    // Every corruption the watch delivered was refused and counted; the last-good table is intact.
    await eventually("the gateway to see a corruption", () => gateway.core.routes.invalidUpdates >= 1);
    const metrics = await scrapeMetrics(gateway.url);
    expect(gateway.core.routes.generation).to.equal(1);
    expect(metricValue(metrics, "xtrinode_gateway_routes_generation")).to.equal(1);
    const invalid = metricValue(metrics, "xtrinode_gateway_routes_invalid_updates");
    expect(invalid).to.equal(gateway.core.routes.invalidUpdates);
    expect(invalid).to.be.at.least(1).and.at.most(corruptions);
    expect([...gateway.core.routes.table.byKey.keys()]).to.deep.equal(["team-a/alpha", "team-a/beta"]);
    expect(gateway.core.routes.table.byKey.get("team-a/alpha")!.backend).to.equal(alpha.url);
    process.stdout.write(`      ${corruptions} corruptions written, ${invalid} seen and refused by the gateway, ${QUERIES} queries ok\n`);
  });

  it("applies a valid update after the corruptions (the watch still works)", async () => {
    const live = await client.get({ apiVersion: "v1", kind: "ConfigMap", namespace, name: routesConfigMapName });
    await client.replace({ ...live!, data: { [routesDataKey]: validRoutesText(["alpha"], () => alpha.url) } });
    await eventually("the valid update", () => gateway.core.routes.generation === 2);
    expect([...gateway.core.routes.table.byKey.keys()]).to.deep.equal(["team-a/alpha"]);
  });
});

describe("failure: routes file corrupted under gateway load", function () {
  this.timeout(60_000);
  let backend: TrinoTestServer;
  let routes: RoutesFile;
  let gateway: RunningGateway;

  before(async () => {
    backend = await startTrinoTestServer({ name: "alpha" });
    routes = new RoutesFile();
    routes.writeText(validRoutesText(["alpha"], () => backend.url));
    gateway = await startTestGateway(routes);
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
    routes?.remove();
  });

  it("serves 100 queries with zero failures while the file is replaced by malformed documents", async () => {
    const rng = createRng(testSeed("routes file corruption"));
    let stop = false;
    let corruptions = 0;
    const corrupter = (async () => {
      while (!stop) {
        // Atomic replaces (as a ConfigMap volume update), plus an occasional truncated write.
        if (rng.chance(0.1)) writeFileSync(routes.file, "");
        else routes.writeText(malformedRoutes(rng).text);
        corruptions++;
        await new Promise((resolve) => setTimeout(resolve, rng.int(5, 40)));
      }
    })();
    const errors: string[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        try {
          await runQuery(
            Trino.create({ server: gateway.url, auth: new BasicAuth("load"), extraHeaders: { "X-Trino-XTrinode": "team-a/alpha" } }),
            "SELECT 1",
          );
        } catch (error) {
          errors.push((error as Error).message);
        }
      }
    } finally {
      stop = true;
      await corrupter;
    }
    expect(errors).to.deep.equal([]);
    expect(backend.stats.statements).to.equal(100);
    await eventually("the gateway to see a corruption", () => gateway.core.routes.invalidUpdates >= 1);
    expect(gateway.core.routes.generation).to.equal(1);
    // No upper bound here: overlapping reads of the file may deliver one text more than once.
    expect(corruptions).to.be.at.least(5);
    expect([...gateway.core.routes.table.byKey.keys()]).to.deep.equal(["team-a/alpha"]);
    const metrics = await scrapeMetrics(gateway.url);
    expect(metricValue(metrics, "xtrinode_gateway_routes_invalid_updates")).to.equal(gateway.core.routes.invalidUpdates);
  });
});
