// Streaming proxy for follow-up requests, on either proxy library (same API):
// http-proxy 1.18 (the design card's choice, unmaintained since 2020) or http-proxy-3 (maintained rewrite).
import type { IncomingMessage, ServerResponse } from "node:http";
import httpProxy from "http-proxy";
import { createProxyServer as createProxy3 } from "http-proxy-3";
import { agentFor } from "./backend-http.ts";
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

export function createProxyEngine(library: ProxyLibrary, timeoutMs: number): ProxyEngine {
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
