// The gateway's streaming relay (gateway/proxy.ts) over real sockets: what a backend answers reaches
// the client intact (status, repeated headers, a small answer written at once, a large one streamed,
// a chunked one), hop-by-hop headers stay on their own connection, the started transaction id is
// tagged, failures reach onError (before or after the backend answered), and a client that goes away
// is not reported as a backend failure (that would eject healthy backends).
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { bufferedAnswerBytes, createProxyEngine, type ProxyEngine, type RelayHooks } from "../../gateway/proxy.ts";
import { backendTag } from "../../gateway/transactions.ts";

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
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, rawHeaders: response.rawHeaders, body: Buffer.concat(chunks) }),
        );
      })
      .on("error", reject);
  });
}

function headerValues(rawHeaders: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name) values.push(rawHeaders[i + 1]);
  return values;
}

{
  describe("gateway streaming relay", function () {
    this.timeout(20_000);
    let engine: ProxyEngine;
    let backend: Listening;
    let front: Listening;
    let target: string;
    let seenByBackend: http.IncomingHttpHeaders[];
    let onResponse: number;
    let errors: Error[];
    let answeredErrors: boolean[];
    let observed: number;

    before(async () => {
      engine = createProxyEngine(5000);
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
        if (req.url === "/small") {
          res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 11 });
          res.end('{"small":1}');
          return;
        }
        if (req.url === "/small-chunked") {
          res.writeHead(200, { "Content-Type": "application/json" });
          res.write('{"a":');
          setImmediate(() => res.end("1}"));
          return;
        }
        if (req.url === "/cut") {
          // Answers, then dies mid-body.
          res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 1000 });
          res.write('{"partial":');
          setTimeout(() => res.socket?.destroy(), 50);
          return;
        }
        // Repeated headers, chunked framing, a body written in pieces.
        res.writeHead(200, [
          ["X-Trino-Set-Session", "a=1"],
          ["X-Trino-Set-Session", "b=2"],
          ["Content-Type", "application/json"],
        ]);
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
      const hooks: RelayHooks<string> = {
        onResponse: (_context, _status, _encoding) => {
          onResponse++;
          return { push: (chunk) => (observed += chunk.length), end: () => undefined };
        },
        onError: (context, error, answered) => {
          errors.push(error);
          answeredErrors.push(answered);
          if (answered) return;
          frontResponses.get(context)!.writeHead(502);
          frontResponses.get(context)!.end();
        },
      };
      const frontResponses = new Map<string, http.ServerResponse>();
      let counter = 0;
      front = await listen((req, res) => {
        const context = String(counter++);
        frontResponses.set(context, res);
        engine.relay(
          req,
          res,
          target,
          { proto: "http", host: "gateway.example:8080", hostname: "gateway.example", forwardedFor: "203.0.113.9", client: "203.0.113.9" },
          hooks,
          context,
        );
      });
    });
    beforeEach(() => {
      onResponse = 0;
      observed = 0;
      errors = [];
      answeredErrors = [];
      target = backend.url;
      seenByBackend.length = 0;
    });
    after(async () => {
      await Promise.all([front?.close(), backend?.close()]);
      engine?.close();
    });

    it("relays status, repeated headers and a streamed body; Host names the backend; hop-by-hop headers stay behind", async () => {
      const answer = await get(`${front.url}/v1/statement/executing/q/s/1`, {
        "x-trino-user": "alice",
        connection: "keep-alive, x-private",
        "keep-alive": "timeout=5",
      });
      expect(answer.status).to.equal(200);
      // Repeated headers stay separate (the http-proxy libraries join them into "a=1, b=2", which a
      // Trino client reads as a=`1, b=2`).
      expect(headerValues(answer.rawHeaders, "x-trino-set-session")).to.deep.equal(["a=1", "b=2"]);
      expect(answer.body.length).to.equal(16 * 64 * 1024);
      expect(16 * 64 * 1024).to.be.greaterThan(bufferedAnswerBytes); // this answer streams
      expect(onResponse).to.equal(1);
      expect(observed).to.equal(16 * 64 * 1024);
      expect(errors).to.deep.equal([]);
      const seen = seenByBackend[0];
      expect(seen.host).to.equal(new URL(backend.url).host);
      expect(seen["x-trino-user"]).to.equal("alice");
      expect(seen["keep-alive"]).to.equal(undefined);
      expect(seen["x-forwarded-for"]).to.equal("203.0.113.9");
      expect(seen["x-forwarded-host"]).to.equal("gateway.example:8080");
    });

    it("writes a small answer whole, with its length; a small chunked answer gets one", async () => {
      const small = await get(`${front.url}/small`);
      expect(small.body.toString()).to.equal('{"small":1}');
      expect(headerValues(small.rawHeaders, "content-length")).to.deep.equal(["11"]);
      const chunked = await get(`${front.url}/small-chunked`);
      expect(chunked.body.toString()).to.equal('{"a":1}');
      expect(headerValues(chunked.rawHeaders, "content-length")).to.deep.equal(["7"]);
      expect(headerValues(chunked.rawHeaders, "transfer-encoding")).to.deep.equal([]);
      expect(errors).to.deep.equal([]);
    });

    it("cuts the client's connection when the backend dies after answering (a client retries a poll cut so), reporting the failure", async () => {
      const outcome = await get(`${front.url}/cut`).then(
        () => "answered",
        (error: NodeJS.ErrnoException) => error.code,
      );
      expect(outcome).to.equal("ECONNRESET");
      expect(answeredErrors).to.deep.equal([true]);
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
