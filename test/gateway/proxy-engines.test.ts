// The follow-up proxy engines (gateway/proxy.ts) against one contract, over real sockets: what a
// backend answers reaches the client intact (status, repeated headers, a streamed body), hop-by-hop
// headers stay on their own connection, failures reach onError, and a client that goes away is not
// reported as a backend failure (that would eject healthy backends).
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createProxyEngine, type ProxyEngine } from "../../gateway/proxy.ts";
import type { ProxyLibrary } from "../../gateway/config.ts";
import { backendTag, tagStartedTransaction } from "../../gateway/transactions.ts";

interface Listening {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function get(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; rawHeaders: string[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, rawHeaders: response.rawHeaders, body: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });
}

function headerValues(rawHeaders: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name) values.push(rawHeaders[i + 1]);
  return values;
}

for (const library of ["node-http", "http-proxy-3", "http-proxy"] as ProxyLibrary[]) {
  describe(`gateway proxy engine ${library}`, function () {
    this.timeout(20_000);
    let engine: ProxyEngine;
    let backend: Listening;
    let front: Listening;
    let target: string;
    let seenByBackend: http.IncomingHttpHeaders[];
    let onResponse: number;
    let errors: Error[];

    before(async () => {
      engine = createProxyEngine(library, 5000);
      seenByBackend = [];
      backend = await listen((req, res) => {
        seenByBackend.push(req.headers);
        if (req.url === "/transaction") {
          res.writeHead(200, { "X-Trino-Started-Transaction-Id": "tx-1", "Content-Type": "application/json" });
          res.end("{}");
          return;
        }
        if (req.url === "/slow") {
          setTimeout(() => res.end("late"), 400);
          return;
        }
        // Repeated headers, chunked framing, a body written in pieces.
        res.writeHead(200, [["X-Trino-Set-Session", "a=1"], ["X-Trino-Set-Session", "b=2"], ["Content-Type", "application/json"]]);
        const piece = Buffer.alloc(64 * 1024, "x");
        let left = 16;
        const write = () => {
          if (left-- === 0) return res.end();
          res.write(piece);
          setImmediate(write);
        };
        write();
      });
      target = backend.url;
      front = await listen((req, res) => {
        engine.forward(req, res, target, {
          onResponse: (proxyRes) => {
            onResponse++;
            tagStartedTransaction(proxyRes, target);
          },
          onError: (error) => {
            errors.push(error);
            if (!res.headersSent) {
              res.writeHead(502);
              res.end();
            }
          },
        });
      });
    });
    beforeEach(() => {
      onResponse = 0;
      errors = [];
      target = backend.url;
      seenByBackend.length = 0;
    });
    after(async () => {
      await Promise.all([front?.close(), backend?.close()]);
      engine?.close();
    });

    it("relays status, repeated headers and a streamed body; Host names the backend; hop-by-hop headers stay behind", async () => {
      const answer = await get(`${front.url}/v1/statement/executing/q/s/1`, { "x-trino-user": "alice", connection: "keep-alive, x-private", "keep-alive": "timeout=5" });
      expect(answer.status).to.equal(200);
      // http-proxy and http-proxy-3 copy proxyRes.headers, where Node joins a repeated header into one
      // "a=1, b=2" value (a Trino client reads that as a=`1, b=2`): one reason node-http is the default.
      const expected = library === "node-http" ? ["a=1", "b=2"] : ["a=1, b=2"];
      expect(headerValues(answer.rawHeaders, "x-trino-set-session")).to.deep.equal(expected);
      expect(answer.body.length).to.equal(16 * 64 * 1024);
      expect(onResponse).to.equal(1);
      expect(errors).to.deep.equal([]);
      const seen = seenByBackend[0];
      expect(seen.host).to.equal(new URL(backend.url).host);
      expect(seen["x-trino-user"]).to.equal("alice");
      // The proxy libraries pass Keep-Alive on (RFC 9110 makes it hop-by-hop); node-http does not.
      if (library === "node-http") expect(seen["keep-alive"]).to.equal(undefined);
    });

    it("relays a started transaction id tagged with the backend (transactions.ts rewrites the response before it is written)", async () => {
      const answer = await get(`${front.url}/transaction`);
      expect(headerValues(answer.rawHeaders, "x-trino-started-transaction-id")).to.deep.equal([`tx-1.${backendTag(backend.url)}`]);
    });

    it("reports a refused connection through onError", async () => {
      const closed = await listen(() => undefined);
      await closed.close();
      target = closed.url;
      const answer = await get(`${front.url}/v1/statement/executing/q/s/1`);
      expect(answer.status).to.equal(502);
      expect(errors).to.have.length(1);
      expect((errors[0] as NodeJS.ErrnoException).code).to.equal("ECONNREFUSED");
    });

    it("does not report a client that went away as a backend failure", async () => {
      const request = http.get(`${front.url}/slow`, { agent: false });
      request.on("error", () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      request.destroy();
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(seenByBackend).to.have.length(1);
      expect(errors).to.deep.equal([]);
    });
  });
}
