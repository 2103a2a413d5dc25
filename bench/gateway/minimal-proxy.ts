// Reference point for bench/gateway, not product code: the least a Node.js reverse proxy can do
// for this flow — node:http server, keep-alive agent, X-Forwarded-* set, request and response piped,
// no routing, stickiness, auth or metrics. The gap between it and nginx is the runtime's (on this
// machine); the gap between it and the gateway is the gateway's own work.
//
//   node bench/gateway/minimal-proxy.ts <backend-url>   (prints {"event":"listening","url":…})
import http from "node:http";
import type { AddressInfo } from "node:net";

const backend = new URL(process.argv[2] ?? "");
const agentOptions = { keepAlive: true, maxSockets: 256, noDelay: true };
const agent = new http.Agent(agentOptions);

const server = http.createServer((req, res) => {
  const headers = {
    ...req.headers,
    "x-forwarded-host": req.headers.host,
    "x-forwarded-proto": "http",
    "x-forwarded-for": req.socket.remoteAddress,
  };
  delete headers.connection;
  const upstream = http.request(
    { hostname: backend.hostname, port: backend.port, method: req.method, path: req.url, headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});
server.listen(0, "127.0.0.1", () =>
  console.log(JSON.stringify({ event: "listening", url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
);
process.once("SIGTERM", () => process.exit(0));
