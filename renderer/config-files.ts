// Trino's config files (node.properties, jvm.config, config.properties, log.properties) from the
// Helm values, as the chart's configmap-coordinator/worker templates build them. Later keys win:
// spec/overlay config replaces a built-in property instead of duplicating it.
import type { TrinoValues } from "../schemas/generated/types.ts";
import { readSchema } from "../schemas/schema-files.ts";
import { escapePropertyValue } from "./catalogs.ts";
import { COORDINATOR_PORT } from "./names.ts";

/** The one rule for property names (common.schema.json $defs.trinoPropertyName; the schemas use it as propertyNames). */
const PROPERTY_NAME = (
  readSchema("common.schema.json").$defs as Record<string, { pattern: string; maxLength: number; description: string }>
).trinoPropertyName;
const PROPERTY_NAME_PATTERN = new RegExp(PROPERTY_NAME.pattern);
export const PROPERTY_NAME_RULE = PROPERTY_NAME.description;

export function isTrinoPropertyName(key: string): boolean {
  return key.length <= PROPERTY_NAME.maxLength && PROPERTY_NAME_PATTERN.test(key);
}

/**
 * Why raw properties-file text (valuesOverlay lines such as additionalConfigProperties, or
 * server.coordinatorExtraConfig) would not stay the entries the renderer sees: a key that is not a
 * property name, a line break inside a one-line entry, a carriage return (Java ends a line there too), or
 * a trailing backslash (Java continues the entry onto the next line, swallowing the property after it).
 */
export function propertyLinesIssues(text: string, oneLine: boolean): string[] {
  if (text.includes("\r")) return ["contains a carriage return, which ends a line in a properties file; use \\n line breaks only"];
  if (oneLine && text.includes("\n"))
    return ["is one properties-file line and contains a line break, which would add another property; use one list entry per property"];
  const issues: string[] = [];
  for (const [key, value] of parseLines(text)) {
    if (!isTrinoPropertyName(key))
      issues.push(`has the key ${JSON.stringify(key)}, which is not ${PROPERTY_NAME_RULE}; write key=value with a valid key`);
    else if (/(^|[^\\])(\\\\)*\\$/.test(value)) {
      issues.push(
        `has the property ${key} ending in a backslash, which continues it onto the next line of the properties file; write a literal backslash as \\\\`,
      );
    }
  }
  return issues;
}

type Role = "coordinator" | "worker";

/** The Helm values each of a role's jvm.config lines comes from (path under the role, value), for the line-break check. */
export function jvmConfigSources(values: TrinoValues, role: Role): Array<[string, string | undefined]> {
  const jvm = values[role].jvm ?? {};
  return [
    ["jvm.maxHeapSize", jvm.maxHeapSize],
    ["jvm.gcMethod.type", jvm.gcMethod?.type],
    ["jvm.gcMethod.g1.heapRegionSize", jvm.gcMethod?.g1?.heapRegionSize],
    ...(values[role].additionalJVMConfig ?? []).map((line, i): [string, string] => [`additionalJVMConfig[${i}]`, line]),
  ];
}

/** Parses `key=value` lines (as written by propertiesText) into ordered entries. */
function parseLines(text: string | undefined): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const line of (text ?? "").split("\n")) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    entries.push(eq < 0 ? [trimmed, ""] : [trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1)]);
  }
  return entries;
}

/**
 * A properties file from the renderer's own entries (values from Helm values, escaped: a line break
 * or trailing backslash an overlay put in e.g. server.node.dataDir stays inside that one property)
 * and then `key=value` lines already in properties-file form (parseLines).
 */
function propertiesFile(builtIn: Array<[string, string]>, ...lines: Array<Array<[string, string]>>): string {
  const merged = new Map<string, string>();
  for (const [key, value] of builtIn) merged.set(key, escapePropertyValue(value));
  for (const group of lines) for (const [key, value] of group) merged.set(key, value);
  return [...merged].map(([key, value]) => `${key}=${value}\n`).join("");
}

function nodeProperties(values: TrinoValues): string {
  const node = values.server.node;
  return propertiesFile(
    [
      ["node.environment", node.environment ?? "production"],
      ["node.data-dir", node.dataDir ?? "/data/trino"],
      ["plugin.dir", node.pluginDir ?? "/usr/lib/trino/plugin"],
    ],
    parseLines((values.additionalNodeProperties ?? []).join("\n")),
  );
}

function jvmConfig(values: TrinoValues, role: Role): string {
  const jvm = values[role].jvm ?? {};
  const lines = [
    "-server",
    "-agentpath:/usr/lib/trino/bin/libjvmkill.so",
    `-Xmx${jvm.maxHeapSize ?? "8G"}`,
    `-XX:+${jvm.gcMethod?.type ?? "UseG1GC"}`,
    `-XX:G1HeapRegionSize=${jvm.gcMethod?.g1?.heapRegionSize ?? "32M"}`,
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+HeapDumpOnOutOfMemoryError",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:ReservedCodeCacheSize=512M",
    "-XX:PerMethodRecompilationCutoff=10000",
    "-XX:PerBytecodeRecompilationCutoff=10000",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-XX:+EnableDynamicAgentLoading",
    ...(values[role].additionalJVMConfig ?? []),
  ];
  return lines.join("\n") + "\n";
}

function configProperties(values: TrinoValues, role: Role, fullname: string): string {
  const roleConfig = values[role].config ?? {};
  const base: Array<[string, string]> = [["coordinator", String(role === "coordinator")]];
  if (role === "coordinator") base.push(["node-scheduler.include-coordinator", "false"]);
  base.push(
    ["http-server.http.port", String(values.service.port ?? COORDINATOR_PORT)],
    ["query.max-memory", values.server.config.query?.maxMemory ?? "4GB"],
    ["query.max-memory-per-node", roleConfig.query?.maxMemoryPerNode ?? "1GB"],
  );
  if (roleConfig.memory?.heapHeadroomPerNode) base.push(["memory.heap-headroom-per-node", roleConfig.memory.heapHeadroomPerNode]);
  base.push(["discovery.uri", role === "coordinator" ? `http://localhost:${COORDINATOR_PORT}` : `http://${fullname}:${COORDINATOR_PORT}`]);
  const graceful = values.worker.gracefulShutdown;
  if (role === "worker" && graceful?.enabled) base.push(["shutdown.grace-period", `${graceful.gracePeriodSeconds ?? 120}s`]);
  const extra = role === "coordinator" ? values.server.coordinatorExtraConfig : values.server.workerExtraConfig;
  return propertiesFile(base, parseLines((values.additionalConfigProperties ?? []).join("\n")), parseLines(extra));
}

function logProperties(values: TrinoValues): string {
  return propertiesFile(
    [["io.trino", values.server.log.trino?.level ?? "INFO"]],
    parseLines((values.additionalLogProperties ?? []).join("\n")),
  );
}

/**
 * Graceful shutdown is a PUT to the worker's own /v1/info/state, which Trino's default access
 * control denies. Like the chart, workers get a file access control that lets `admin` do it.
 */
const gracefulShutdownRules = JSON.stringify(
  { catalogs: [{ allow: "all" }], system_information: [{ user: "admin", allow: ["read", "write"] }] },
  null,
  2,
);

/** ConfigMap data of one role's config directory (/etc/trino). */
export function roleConfigFiles(values: TrinoValues, role: Role): Record<string, string> {
  const files: Record<string, string> = {
    "node.properties": nodeProperties(values),
    "jvm.config": jvmConfig(values, role),
    "config.properties": configProperties(values, role, values.xtrinode.fullname),
    "log.properties": logProperties(values),
  };
  if (role === "worker" && values.worker.gracefulShutdown?.enabled) {
    files["access-control.properties"] = propertiesFile([
      ["access-control.name", "file"],
      ["security.config-file", `${values.server.config.path ?? "/etc/trino"}/graceful-shutdown-rules.json`],
    ]);
    files["graceful-shutdown-rules.json"] = gracefulShutdownRules + "\n";
  }
  return files;
}

/** Catalog ConfigMap data: `<catalog>.properties` per catalog, sorted. */
export function catalogFiles(values: TrinoValues): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of Object.keys(values.catalogs).sort()) files[`${name}.properties`] = values.catalogs[name];
  return files;
}
