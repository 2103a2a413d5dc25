// The rendered coordinator, laid out as its pod sees it: the coordinator ConfigMap's files in the
// etc dir (/etc/trino in the pod), the catalog ConfigMap's files in etc/catalog, and the Secret
// values as the environment variables the Deployment's secretKeyRefs name. Only what differs
// outside a pod changes (each change is listed in `outsidePod`): paths, the HTTP port, the discovery
// URI, and a JVM agent that only the container image carries.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { RenderedRuntime } from "../../../renderer/types.ts";

interface KubeObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    template?: { spec?: { containers?: { env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[] } };
  };
}

export interface CoordinatorLayout {
  etcDir: string;
  dataDir: string;
  /** The Secret-backed environment of the coordinator container. */
  env: Record<string, string>;
  /** Every line changed from the rendered files, for failure messages and the report. */
  outsidePod: string[];
  /** The rendered files, unchanged (for asserting on what the renderer emitted). */
  rendered: Record<string, string>;
}

function object(rendered: RenderedRuntime, kind: string, name: string): KubeObject {
  const found = (rendered.objects as unknown as KubeObject[]).find(
    (candidate) => candidate.kind === kind && candidate.metadata.name === name,
  );
  if (!found) throw new Error(`rendered runtime has no ${kind} ${name}`);
  return found;
}

/** Replaces `key=value` lines of a properties file (adding absent keys), recording each change. */
function setProperties(text: string, changes: Record<string, string>, file: string, log: string[]): string {
  const lines = text.split("\n");
  for (const [key, value] of Object.entries(changes)) {
    const index = lines.findIndex((line) => line.startsWith(`${key}=`));
    if (index >= 0) {
      log.push(`${file}: ${lines[index]} → ${key}=${value}`);
      lines[index] = `${key}=${value}`;
    } else {
      log.push(`${file}: + ${key}=${value}`);
      lines.splice(lines.length - 1, 0, `${key}=${value}`);
    }
  }
  return lines.join("\n");
}

/**
 * Writes the coordinator's files under `root` and returns the environment for its container.
 * `secrets` maps `secretName/key` to the value; `extraConfig` adds config.properties lines a test
 * needs besides the rendered ones (each recorded in outsidePod).
 */
export function layOutCoordinator(
  rendered: RenderedRuntime,
  options: { root: string; home: string; port: number; secrets: Record<string, string>; extraConfig?: Record<string, string> },
): CoordinatorLayout {
  const { fullname } = { fullname: `${rendered.name}-trino` };
  const config = object(rendered, "ConfigMap", `${fullname}-coordinator`);
  const catalogs = object(rendered, "ConfigMap", `${fullname}-catalog`);
  const deployment = object(rendered, "Deployment", `${fullname}-coordinator`);
  const etcDir = path.join(options.root, "etc");
  const dataDir = path.join(options.root, "data");
  mkdirSync(path.join(etcDir, "catalog"), { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const outsidePod: string[] = [];
  const files = { ...config.data };
  files["node.properties"] = setProperties(
    files["node.properties"],
    { "node.data-dir": dataDir, "plugin.dir": path.join(options.home, "plugin") },
    "node.properties",
    outsidePod,
  );
  files["config.properties"] = setProperties(
    files["config.properties"],
    { "http-server.http.port": String(options.port), "discovery.uri": `http://127.0.0.1:${options.port}`, ...options.extraConfig },
    "config.properties",
    outsidePod,
  );
  // The container image ships /usr/lib/trino/bin/libjvmkill.so; the server tarball does not.
  files["jvm.config"] = files["jvm.config"]
    .split("\n")
    .filter((line) => {
      const drop = line.startsWith("-agentpath:/usr/lib/trino/");
      if (drop) outsidePod.push(`jvm.config: - ${line} (an agent of the container image, not in the server tarball)`);
      return !drop;
    })
    .join("\n");
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(etcDir, file), text);
  for (const [file, text] of Object.entries(catalogs.data ?? {})) writeFileSync(path.join(etcDir, "catalog", file), text);
  const env: Record<string, string> = {};
  for (const container of deployment.spec?.template?.spec?.containers ?? []) {
    for (const variable of container.env ?? []) {
      const ref = variable.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const value = options.secrets[`${ref.name}/${ref.key}`];
      if (value === undefined)
        throw new Error(`the coordinator's env ${variable.name} names Secret ${ref.name} key ${ref.key}, which the test does not supply`);
      env[variable.name] = value;
    }
  }
  return {
    etcDir,
    dataDir,
    env,
    outsidePod,
    rendered: {
      ...config.data,
      ...Object.fromEntries(Object.entries(catalogs.data ?? {}).map(([file, text]) => [`catalog/${file}`, text])),
    },
  };
}
