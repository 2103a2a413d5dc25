// Active health of backends across a route's states (gateway/backends.ts): what a route turning
// RUNNING does to probes that failed before, including one still in flight.
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Backends } from "../../gateway/backends.ts";
import { silentLogger } from "../../lib/logger.ts";

/** A coordinator's /v1/info: "hang" (no answer), "down" (503) or "ready" (200, not starting). */
async function fakeCoordinator(): Promise<{ url: string; mode: "hang" | "down" | "ready"; probes: number; close(): void }> {
  const coordinator = { url: "", mode: "hang" as "hang" | "down" | "ready", probes: 0, close: () => {} };
  const server = http.createServer((_req, res) => {
    coordinator.probes++;
    if (coordinator.mode === "ready") res.writeHead(200, { "content-type": "application/json" }).end('{"starting":false}');
    else if (coordinator.mode === "down") res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  coordinator.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  coordinator.close = () => {
    server.closeAllConnections();
    server.close();
  };
  return coordinator;
}

const health = (failureThreshold: number) => ({
  intervalMs: 60_000,
  timeoutMs: 300,
  failureThreshold,
  ejectionBaseMs: 300,
  ejectionMaxMs: 2000,
});

describe("gateway backend health when a route turns RUNNING (units)", () => {
  it("probes afresh: a probe in flight from before the route turned RUNNING does not count", async () => {
    const coordinator = await fakeCoordinator();
    const backends = new Backends(health(1), silentLogger());
    try {
      backends.sync([{ backend: coordinator.url, state: "RESUMING" }]);
      await backends.state(coordinator.url).probing; // times out: the coordinator does not answer yet
      expect(backends.state(coordinator.url).health).to.equal("unhealthy");
      const round = backends.tick(); // a probe round in flight against the silent coordinator
      while (coordinator.probes < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      coordinator.mode = "ready"; // the coordinator is up, and the operator reports the route RUNNING
      backends.sync([{ backend: coordinator.url, state: "RUNNING" }]);
      expect(backends.usable(coordinator.url)).to.equal(true);
      await round; // the old probe times out: it must not count against the ready coordinator
      await backends.state(coordinator.url).probing;
      expect(backends.state(coordinator.url).health).to.equal("healthy");
    } finally {
      coordinator.close();
    }
  });

  it("forgets failed probes below the threshold, so the ready coordinator gets the whole threshold", async () => {
    const coordinator = await fakeCoordinator();
    coordinator.mode = "down";
    const backends = new Backends(health(3), silentLogger());
    try {
      backends.sync([{ backend: coordinator.url, state: "RESUMING" }]);
      await backends.state(coordinator.url).probing;
      await backends.tick();
      expect(backends.state(coordinator.url).failedProbes).to.equal(2);
      backends.sync([{ backend: coordinator.url, state: "RUNNING" }]);
      await backends.state(coordinator.url).probing; // the immediate probe: 1 failure since RUNNING
      await backends.tick(); // 2 failures since RUNNING: below the threshold of 3
      expect(backends.state(coordinator.url).health).to.equal("unknown");
      await backends.tick();
      expect(backends.state(coordinator.url).health).to.equal("unhealthy");
    } finally {
      coordinator.close();
    }
  });
});
