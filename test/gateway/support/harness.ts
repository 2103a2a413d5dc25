// Helpers for gateway integration tests: routes files, gateways on ephemeral ports, polling.
import { mkdtempSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { QueryResult, Trino } from "trino-client";
import type { RouteEntry } from "../../../schemas/generated/types.ts";
import { silentLogger } from "../../../lib/logger.ts";
import type { GatewayConfig } from "../../../gateway/config.ts";
import { fileRoutesSource } from "../../../gateway/routes-source.ts";
import { startGateway, type RunningGateway } from "../../../gateway/server.ts";
import { writeRoutesFile } from "../../support/routes-file.ts";

export class RoutesFile {
  readonly dir = mkdtempSync(path.join(tmpdir(), "xtrinode-gateway-"));
  readonly file = path.join(this.dir, "routes.yaml");
  routes: RouteEntry[] = [];

  write(routes: RouteEntry[]): void {
    this.routes = routes;
    writeRoutesFile(this.file, routes);
  }

  /** Replaces the file atomically, as a ConfigMap volume update does. */
  writeText(text: string): void {
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, this.file);
  }

  setState(namespace: string, name: string, state: RouteEntry["state"]): void {
    this.write(this.routes.map((route) => (route.namespace === namespace && route.name === name ? { ...route, state } : route)));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface GatewayUnderTest extends RunningGateway {}

export async function startTestGateway(
  routes: RoutesFile,
  config: GatewayConfig = {},
  extra: { lifecycleUrl?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningGateway> {
  const logger = silentLogger();
  return startGateway({
    routesSource: fileRoutesSource(routes.file, logger, 100),
    config: {
      health: { intervalMs: 200, timeoutMs: 2000, failureThreshold: 2, ejectionBaseMs: 300, ejectionMaxMs: 2000 },
      held: { pollWaitMs: 100 },
      ...config,
    },
    lifecycleUrl: extra.lifecycleUrl,
    env: extra.env ?? {},
    logger,
  });
}

/**
 * Runs a query to completion with trino-client; returns the data pages and throws on a FAILED
 * result. Uses next() rather than for-await: for-await never yields a result without a nextUri.
 */
export async function runQuery(trino: Trino, sql: string): Promise<QueryResult[]> {
  const iterator = await trino.query(sql);
  const pages: QueryResult[] = [];
  for (;;) {
    const { value, done } = await iterator.next();
    if (value?.error) throw new Error(`${value.error.errorName}: ${value.error.message}`);
    if (done) return pages;
    pages.push(value);
  }
}
