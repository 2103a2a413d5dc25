// The fixture runtime of the real-Trino tier: one coordinator and no workers (fixed, count 0), a
// 1536 MiB memory limit (so the renderer's heap and query.max-memory-per-node rules decide: the
// chart's 1GB per node would not fit the 1152M heap), the tpch and memory connectors, and a
// PostgreSQL catalog whose user and password come from a Secret.
import { renderRuntime } from "../../../renderer/index.ts";
import type { RenderedRuntime } from "../../../renderer/types.ts";
import type { XTrinode, XTrinodeCatalog } from "../../../schemas/generated/types.ts";

export const runtimeNamespace = "realtrino";
export const runtimeName = "analytics";
export const postgresSecret = "sales-db-credentials";

export function fixtureRuntime(
  postgresPort: number,
  coordinatorConfig: Record<string, string> = {},
): { runtime: XTrinode; catalogs: XTrinodeCatalog[] } {
  const catalog = (name: string, spec: XTrinodeCatalog["spec"]): XTrinodeCatalog => ({
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "XTrinodeCatalog",
    metadata: { name, namespace: runtimeNamespace },
    spec,
  });
  const catalogs = [
    catalog("tpch", { connector: "tpch" }),
    catalog("scratch", { connector: "memory" }),
    catalog("sales-db", {
      catalogName: "sales",
      connector: "postgresql",
      // In a cluster this is the database Service's name; here PostgreSQL listens on 127.0.0.1.
      properties: { "connection-url": `jdbc:postgresql://127.0.0.1:${postgresPort}/sales` },
      secretProperties: {
        "connection-user": { secretName: postgresSecret, key: "username" },
        "connection-password": { secretName: postgresSecret, key: "password" },
      },
    }),
  ];
  const runtime: XTrinode = {
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "XTrinode",
    metadata: { name: runtimeName, namespace: runtimeNamespace },
    spec: {
      catalogs: { names: ["tpch", "scratch", "sales-db"] },
      coordinator: {
        resources: { limits: { memory: "1536Mi" } },
        ...(Object.keys(coordinatorConfig).length ? { config: coordinatorConfig } : {}),
      },
      workers: { count: 0 },
      route: { hostnames: ["analytics.trino.test"] },
    },
  } as XTrinode;
  return { runtime, catalogs };
}

export function renderFixture(postgresPort: number, coordinatorConfig: Record<string, string> = {}): RenderedRuntime {
  return renderRuntime(fixtureRuntime(postgresPort, coordinatorConfig));
}
