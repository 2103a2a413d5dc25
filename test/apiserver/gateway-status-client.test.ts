// The one reader of the gateway's status document (lib/gateway-status-client.ts), used by the console's
// gateway view and `xtrinode status`, against a local HTTP server: each problem named, the size cap enforced
// while reading (chunked answers without Content-Length too), no redirects followed.
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gatewayStatusUrl, readGatewayStatus } from "../../lib/gateway-status-client.ts";

const validStatus = {
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "GatewayStatus",
  generatedAt: "2026-01-01T12:00:00.000Z",
  routes: { generation: 1, lastGoodAgeSeconds: 3, invalidUpdates: 0, rejectedSinceLastGood: 0 },
  held: { count: 0, max: 1000 },
  inFlight: { count: 0 },
  runtimes: [],
  backends: [],
};

describe("lib: the gateway status reader", () => {
  let server: http.Server;
  let base: string;
  /** What the server does for the next request. */
  let answer: (res: http.ServerResponse) => void = () => undefined;
  let bytesSent = 0;
  let authorization: string | undefined;

  before(async () => {
    server = http.createServer((req, res) => {
      authorization = req.headers.authorization;
      answer(res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const read = (maxBytes = 16 * 1024) => readGatewayStatus(gatewayStatusUrl(base), { token: "admin", timeoutMs: 5000, maxBytes });

  it("reads a valid status document with the admin token", async () => {
    answer = (res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(validStatus));
    const result = await read();
    expect(result).to.deep.equal({ ok: true, status: validStatus });
    expect(authorization).to.equal("Bearer admin");
    expect(gatewayStatusUrl(base).pathname).to.equal("/xtrinode/v1/status");
  });

  it("names the problem: refused (401/403), another HTTP status, not a status document, a redirect not followed", async () => {
    answer = (res) => res.writeHead(403).end();
    expect(await read()).to.deep.equal({ ok: false, problem: "refused", httpStatus: 403 });
    answer = (res) => res.writeHead(500).end();
    expect(await read()).to.deep.equal({ ok: false, problem: "http", httpStatus: 500 });
    answer = (res) => res.writeHead(200).end("{not json");
    expect(await read()).to.deep.equal({ ok: false, problem: "not-a-status" });
    answer = (res) => res.writeHead(200).end(JSON.stringify({ ...validStatus, kind: "Other" }));
    expect(await read()).to.deep.equal({ ok: false, problem: "not-a-status" });
    answer = (res) => res.writeHead(302, { location: "http://127.0.0.1:1/elsewhere" }).end();
    expect(await read()).to.include({ ok: false, problem: "unreachable" });
  });

  it("stops reading once the answer exceeds the cap: declared (Content-Length) or streamed (chunked)", async () => {
    answer = (res) => res.writeHead(200, { "content-length": String(1024 * 1024) }).end();
    expect(await read()).to.deep.equal({ ok: false, problem: "too-large" });

    // A chunked answer that would go on for 4 MiB: the reader must give up after about the cap.
    bytesSent = 0;
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    answer = (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(1024, " ");
      const send = () => {
        while (bytesSent < 4 * 1024 * 1024 && !res.destroyed) {
          bytesSent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", send);
        }
        res.end();
      };
      res.on("close", () => closed());
      send();
    };
    expect(await read(16 * 1024)).to.deep.equal({ ok: false, problem: "too-large" });
    await connectionClosed;
    expect(bytesSent).to.be.below(4 * 1024 * 1024);
  });
});
