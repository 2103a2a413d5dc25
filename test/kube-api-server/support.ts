// Shared test setup: one test server per suite, client-node clients, and small waiting helpers.
import { ApiException, KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { startKubeApiServer, type KubeApiServerOptions, type KubeApiTestServer } from "../../fixtures/kube-api-server/index.ts";

export interface ServerContext {
  server: KubeApiTestServer;
  kc: KubeConfig;
}

/** Starts a server before the suite's tests and closes it after; the context fills in `before`. */
export function useServer(options: KubeApiServerOptions = {}): ServerContext {
  const ctx = {} as ServerContext;
  before(async () => {
    ctx.server = await startKubeApiServer(options);
    ctx.kc = ctx.server.kubeConfig();
  });
  after(async () => {
    await ctx.server?.close();
  });
  return ctx;
}

/** Runs `call`, expecting an ApiException; returns its code and parsed Status body. */
export async function apiError(call: () => Promise<unknown>): Promise<{ code: number; body: Record<string, any> }> {
  try {
    await call();
  } catch (error) {
    if (error instanceof ApiException) {
      const raw = (error as ApiException<unknown>).body;
      const body = typeof raw === "string" ? (JSON.parse(raw) as Record<string, any>) : (raw as Record<string, any>);
      return { code: error.code, body };
    }
    throw error;
  }
  throw new Error("expected the call to fail with an ApiException");
}

/** A minimal valid apps/v1 Deployment body. */
export function deployment(name: string, replicas: number): V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "img:1" }] } },
    },
  };
}
