// Streaming proxy for follow-up requests (nextUri polls, cancels, query info), on one of three
// engines with the same contract: `node-http` (the default: node:http piping, measured fastest in
// bench/gateway), `http-proxy-3` (maintained rewrite of http-proxy) or `http-proxy` 1.18 (the
// design card's choice, unmaintained since 2020). Chosen by the `proxy` config key or
// XTRINODE_GATEWAY_PROXY.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import httpProxy from "http-proxy";
import { createProxyServer as createProxy3 } from "http-proxy-3";
import { agentFor, backendAddress, hasBody, withoutHopByHop, withoutHopByHopRaw } from "./backend-http.ts";
import type { ProxyLibrary } from "./config.ts";

export interface ProxyHooks {
  onResponse(proxyRes: IncomingMessage): void;
  onError(error: Error): void;
}

export interface ProxyEngine {
  library: ProxyLibrary;
  forward(req: IncomingMessage, res: ServerResponse, target: string, hooks: ProxyHooks): void;
  close(): void;
}

interface MinimalProxyServer {
  on(event: "proxyRes", listener: (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => void): unknown;
  on(event: "error", listener: (error: Error, req: IncomingMessage) => void): unknown;
  web(req: IncomingMessage, res: ServerResponse, options: Record<string, unknown>, callback: (error: Error) => void): unknown;
  close(): unknown;
}

function proxyLibraryEngine(library: "http-proxy" | "http-proxy-3", timeoutMs: number): ProxyEngine {
  const options = { xfwd: false, changeOrigin: true, proxyTimeout: timeoutMs };
  const server = (library === "http-proxy" ? httpProxy.createProxyServer(options) : createProxy3(options)) as unknown as MinimalProxyServer;
  const hooksByRequest = new WeakMap<IncomingMessage, ProxyHooks>();
  server.on("proxyRes", (proxyRes, req) => hooksByRequest.get(req)?.onResponse(proxyRes));
  server.on("error", (error, req) => hooksByRequest.get(req)?.onError(error));
  return {
    library,
    forward(req, res, target, hooks) {
      hooksByRequest.set(req, hooks);
      server.web(req, res, { target, agent: agentFor(target) }, (error) => hooks.onError(error));
    },
    close() {
      server.close();
    },
  };
}

function nodeHttpEngine(timeoutMs: number): ProxyEngine {
  return {
    library: "node-http",
    forward(req, res, target, hooks) {
      const address = backendAddress(target);
      const headers = withoutHopByHop(req.headers);
      headers.host = address.host; // like http-proxy's changeOrigin
      // Reported once, and never after the client itself went away (that is no backend failure).
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        hooks.onError(error);
      };
      const upstream = (address.https ? https : http).request(
        { hostname: address.hostname, port: address.port, method: req.method, path: req.url, headers, agent: agentFor(target), timeout: timeoutMs },
        (proxyRes) => {
          hooks.onResponse(proxyRes);
          res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, withoutHopByHopRaw(proxyRes.rawHeaders));
          proxyRes.pipe(res);
          proxyRes.once("error", fail);
        },
      );
      upstream.once("timeout", () => upstream.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      upstream.once("error", fail);
      // The client went away before the answer was complete: stop the backend request too.
      res.once("close", () => {
        if (res.writableFinished) return;
        settled = true;
        upstream.destroy();
      });
      if (hasBody(req)) req.pipe(upstream);
      else upstream.end();
    },
    close() {
      // Keep-alive sockets belong to the shared agents (backend-http.ts).
    },
  };
}

export function createProxyEngine(library: ProxyLibrary, timeoutMs: number): ProxyEngine {
  return library === "node-http" ? nodeHttpEngine(timeoutMs) : proxyLibraryEngine(library, timeoutMs);
}
