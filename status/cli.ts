// `xtrinode status`: the runtimes as a kubectl-style table (or JSON/YAML), with held and in-flight
// queries from the gateway's status endpoint when it is reachable.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import yaml from "js-yaml";
import { loadKubeConfig } from "../lib/kube-config.ts";
import { apiVersion, kinds } from "../schemas/api/index.ts";
import { contextNamespace, fetchGatewayStatus, listRuntimes, StatusError, type GatewayAnswer } from "./sources.ts";
import { renderStatusTable, statusRows, tableCells, type RuntimeStatusRow, type TableOptions } from "./table.ts";

interface StatusCommandOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  watch?: boolean;
  interval: string;
  kubeconfig?: string;
  gatewayUrl?: string;
  gatewayTokenFile?: string;
}

const outputs = ["table", "wide", "json", "yaml"] as const;
type Output = (typeof outputs)[number];

export function registerStatusCommands(program: Command): void {
  program
    .command("status")
    .description(
      "Show XTrinode runtimes: phase, route, workers, held and in-flight queries (from the gateway), last activity, time until idle suspend.",
    )
    .argument("[name]", "one runtime")
    .option("-n, --namespace <namespace>", "namespace (default: the kubeconfig context's, else default)")
    .option("-A, --all-namespaces", "runtimes of every namespace (adds the NAMESPACE column)")
    .option("-o, --output <format>", "wide (adds conditions, hostnames, pool, backend), json or yaml")
    .option("-w, --watch", "keep printing rows that change (every --interval)")
    .option("--interval <seconds>", "with --watch: seconds between looks", "2")
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option(
      "--gateway-url <url>",
      "gateway base URL for held and in-flight queries (GET /xtrinode/v1/status), e.g. http://xtrinode-gateway.xtrinode-gateway:8080",
    )
    .option(
      "--gateway-token-file <file>",
      "file holding the gateway's admin token (its config's admin.tokenFile); env XTRINODE_GATEWAY_ADMIN_TOKEN also works",
    )
    .action(async (name: string | undefined, options: StatusCommandOptions) => {
      try {
        await runStatus(name, options);
      } catch (error) {
        if (!(error instanceof StatusError)) throw error;
        process.stderr.write(`error: ${error.message}\n`);
        process.exitCode = 1;
      }
    });
}

function parseOutput(value: string | undefined): Output {
  if (value === undefined) return "table";
  if ((outputs as readonly string[]).includes(value) && value !== "table") return value as Output;
  throw new StatusError(`-o ${value}: expected wide, json or yaml`);
}

function readToken(options: StatusCommandOptions): string | undefined {
  if (!options.gatewayTokenFile) return process.env.XTRINODE_GATEWAY_ADMIN_TOKEN || undefined;
  try {
    return readFileSync(options.gatewayTokenFile, "utf8").trim();
  } catch (error) {
    throw new StatusError(
      `--gateway-token-file ${options.gatewayTokenFile}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`,
    );
  }
}

async function runStatus(name: string | undefined, options: StatusCommandOptions): Promise<void> {
  const output = parseOutput(options.output);
  if (options.allNamespaces && options.namespace) throw new StatusError("-n and -A exclude each other: give one namespace or all");
  if (options.allNamespaces && name) throw new StatusError("a runtime NAME needs one namespace (-n), not -A");
  const intervalSeconds = Number(options.interval);
  if (!Number.isFinite(intervalSeconds) || intervalSeconds < 0.5 || intervalSeconds > 3600)
    throw new StatusError(`--interval ${options.interval}: expected seconds between 0.5 and 3600`);
  let kubeConfig;
  try {
    kubeConfig = loadKubeConfig(options.kubeconfig);
  } catch (error) {
    throw new StatusError(`cannot load the kubeconfig${options.kubeconfig ? ` ${options.kubeconfig}` : ""}: ${(error as Error).message}`);
  }
  const namespace = options.allNamespaces ? undefined : (options.namespace ?? contextNamespace(kubeConfig));
  const token = readToken(options);
  const table: TableOptions = { allNamespaces: Boolean(options.allNamespaces), wide: output === "wide" };

  const fetchRowsAndGateway = async (): Promise<{ rows: RuntimeStatusRow[]; gateway: GatewayAnswer }> => {
    const [runtimes, gateway] = await Promise.all([
      listRuntimes(kubeConfig, namespace, name),
      fetchGatewayStatus(options.gatewayUrl, token),
    ]);
    return { rows: statusRows(runtimes, gateway.ok ? gateway.status : undefined, Date.now()), gateway };
  };

  const first = await fetchRowsAndGateway();
  process.stdout.write(render(first.rows, output, table, namespace, first.gateway));
  if (!first.gateway.ok && (output === "table" || output === "wide")) process.stderr.write(`note: ${first.gateway.note}\n`);
  if (!options.watch) return;

  // Watching: every interval, print the rows whose cells changed (kubectl get -w style, no header).
  let previous = new Map(first.rows.map((row) => [`${row.namespace}/${row.name}`, tableCells(row, table).join("\u0000")]));
  let lastNote = first.gateway.ok ? undefined : first.gateway.note;
  let stopped = false;
  const stop = () => (stopped = true);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  while (!stopped) {
    await new Promise((resolve) => setTimeout(resolve, intervalSeconds * 1000));
    if (stopped) break;
    const next = await fetchRowsAndGateway();
    const changed = next.rows.filter((row) => previous.get(`${row.namespace}/${row.name}`) !== tableCells(row, table).join("\u0000"));
    if (changed.length > 0)
      process.stdout.write(
        output === "json" || output === "yaml"
          ? render(changed, output, table, namespace, next.gateway)
          : withoutHeader(renderStatusTable(changed, table, namespace)),
      );
    const note = next.gateway.ok ? undefined : next.gateway.note;
    if (note && note !== lastNote) process.stderr.write(`note: ${note}\n`);
    lastNote = note;
    previous = new Map(next.rows.map((row) => [`${row.namespace}/${row.name}`, tableCells(row, table).join("\u0000")]));
  }
}

function withoutHeader(table: string): string {
  return table.slice(table.indexOf("\n") + 1);
}

function render(
  rows: RuntimeStatusRow[],
  output: Output,
  table: TableOptions,
  namespace: string | undefined,
  gateway: GatewayAnswer,
): string {
  if (output === "table" || output === "wide") return renderStatusTable(rows, table, namespace);
  const document = {
    apiVersion,
    kind: kinds.statusList,
    gateway: gateway.ok
      ? {
          reachable: true,
          routesGeneration: gateway.status.routes.generation,
          routesLastGoodAgeSeconds: gateway.status.routes.lastGoodAgeSeconds,
        }
      : { reachable: false, note: gateway.note },
    items: rows,
  };
  return output === "json" ? `${JSON.stringify(document, null, 2)}\n` : yaml.dump(document, { noRefs: true, lineWidth: -1 });
}
