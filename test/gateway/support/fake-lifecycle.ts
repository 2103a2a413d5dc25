// A tiny stand-in for the lifecycle API (docs/CONTRACTS.md): counts resume and activity calls
// and, on resume, runs a test-provided action (e.g. flip the route in the routes file to RUNNING).
import http from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import Router from "@koa/router";

export interface FakeLifecycle {
  url: string;
  resumeCalls: Map<string, number>;
  activityCalls: Map<string, string[]>;
  close(): Promise<void>;
}

export async function startFakeLifecycle(
  options: { retryAfterSeconds?: number; onResume?: (namespace: string, name: string) => void; requireToken?: string } = {},
): Promise<FakeLifecycle> {
  const resumeCalls = new Map<string, number>();
  const activityCalls = new Map<string, string[]>();
  const router = new Router();
  router.post("/v1/runtimes/:namespace/:name/resume", (ctx) => {
    const key = `${ctx.params.namespace}/${ctx.params.name}`;
    resumeCalls.set(key, (resumeCalls.get(key) ?? 0) + 1);
    const retryAfterSeconds = options.retryAfterSeconds ?? 30;
    ctx.status = 202;
    ctx.set("Retry-After", String(retryAfterSeconds));
    ctx.body = { namespace: ctx.params.namespace, name: ctx.params.name, state: "RESUMING", retryAfterSeconds };
    options.onResume?.(ctx.params.namespace, ctx.params.name);
  });
  router.post("/v1/runtimes/:namespace/:name/activity", async (ctx) => {
    const key = `${ctx.params.namespace}/${ctx.params.name}`;
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { at: string };
    activityCalls.set(key, [...(activityCalls.get(key) ?? []), body.at]);
    ctx.status = 204;
  });
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (options.requireToken && ctx.get("authorization") !== `Bearer ${options.requireToken}`) {
      ctx.status = 401;
      ctx.body = { error: { code: "UNAUTHENTICATED", message: "bad token" } };
      return;
    }
    await next();
  });
  app.use(router.routes());
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    resumeCalls,
    activityCalls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
