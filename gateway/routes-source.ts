// Where routes come from: a file (local use) or the trino-gateway-routes ConfigMap (watched).
// A source only delivers raw routes.yaml text; RoutesReader parses, validates and keeps last-good.
import { readFile } from "node:fs/promises";
import { watch, type FSWatcher } from "node:fs";
import path from "node:path";
// Types only: the client itself (~60 MiB resident) is imported when a ConfigMap source starts, so a
// gateway reading a routes file never loads it.
import type { KubeConfig, KubernetesListObject, ListWatch, V1ConfigMap } from "@kubernetes/client-node";
import type { Logger } from "../lib/logger.ts";
import { emptyRoutes, encodeRoutes, routesConfigMapName, routesDataKey } from "../schemas/api/index.ts";

/** What a routes ConfigMap without routes.yaml means: no runtime published yet. */
const unpublishedRoutesText = encodeRoutes(emptyRoutes());

export interface RoutesSource {
  /** Starts delivering routes.yaml text (origin names where it came from, for logs). */
  start(deliver: (text: string, origin: string) => void): Promise<void>;
  stop(): void;
}

/** Watches a file (fs.watch on its directory, for atomic replaces) and polls it every `pollMs`. */
export function fileRoutesSource(file: string, logger: Logger, pollMs = 500): RoutesSource {
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let last: string | undefined;
  let stopped = false;
  return {
    async start(deliver) {
      // One read at a time: overlapping reads could deliver an older text after a newer one.
      // A change noticed during a read triggers exactly one more read after it.
      let reading = false;
      let readAgain = false;
      const read = async (): Promise<void> => {
        if (stopped) return;
        if (reading) {
          readAgain = true;
          return;
        }
        reading = true;
        try {
          do {
            readAgain = false;
            try {
              const text = await readFile(file, "utf8");
              if (text !== last && !stopped) {
                last = text;
                deliver(text, file);
              }
            } catch (error) {
              logger.warn(
                { event: "routes-file-unreadable", file, err: (error as Error).message },
                "cannot read routes file; keeping last-good routes",
              );
            }
          } while (readAgain && !stopped);
        } finally {
          reading = false;
        }
      };
      await read();
      try {
        watcher = watch(path.dirname(path.resolve(file)), (_event, name) => {
          if (!name || name === path.basename(file)) void read();
        });
        watcher.on("error", () => undefined);
      } catch {
        // Watching is an accelerator only; polling below still applies changes.
      }
      timer = setInterval(() => void read(), pollMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      watcher?.close();
      if (timer) clearInterval(timer);
    },
  };
}

/** Watches ConfigMap trino-gateway-routes (data key routes.yaml) through an informer. */
export function configMapRoutesSource(kubeConfig: KubeConfig, namespace: string, logger: Logger): RoutesSource {
  // List and watch by name (field selector): RBAC grants the gateway this one ConfigMap only.
  const fieldSelector = `metadata.name=${routesConfigMapName}`;
  let informer: ListWatch<V1ConfigMap> | undefined;
  let stopped = false;
  let restart: NodeJS.Timeout | undefined;
  return {
    async start(deliver) {
      const { CoreV1Api, ListWatch, Watch } = await import("@kubernetes/client-node");
      const api = kubeConfig.makeApiClient(CoreV1Api);
      const watching = new ListWatch<V1ConfigMap>(
        `/api/v1/namespaces/${namespace}/configmaps`,
        new Watch(kubeConfig),
        () => api.listNamespacedConfigMap({ namespace, fieldSelector }) as Promise<KubernetesListObject<V1ConfigMap>>,
        false,
        undefined,
        fieldSelector,
      );
      informer = watching;
      const onChange = (configMap: V1ConfigMap) => {
        if (configMap.metadata?.name !== routesConfigMapName) return;
        const text = configMap.data?.[routesDataKey];
        if (text === undefined) {
          // The install ships the ConfigMap without data (the operator writes it, so re-applying the
          // install never conflicts with it): nothing published yet is an empty routes document,
          // which RoutesReader takes as the first one only, and otherwise keeps last-good.
          logger.warn(
            { event: "routes-configmap-unpublished", namespace },
            `ConfigMap ${routesConfigMapName} has no data key ${routesDataKey} (no routes published yet)`,
          );
          deliver(unpublishedRoutesText, `configmap ${namespace}/${routesConfigMapName}`);
          return;
        }
        deliver(text, `configmap ${namespace}/${routesConfigMapName}`);
      };
      watching.on("add", onChange);
      watching.on("update", onChange);
      watching.on("delete", (configMap) => {
        if (configMap.metadata?.name === routesConfigMapName)
          logger.warn({ event: "routes-configmap-deleted", namespace }, "routes ConfigMap deleted; keeping last-good routes");
      });
      watching.on("error", (error: unknown) => {
        if (stopped) return;
        logger.warn(
          { event: "routes-watch-error", namespace, err: String((error as Error)?.message ?? error) },
          "routes watch failed; restarting",
        );
        restart = setTimeout(() => void watching.start().catch(() => undefined), 1000);
        restart.unref();
      });
      if (stopped) return;
      await watching.start();
    },
    stop() {
      stopped = true;
      if (restart) clearTimeout(restart);
      void informer?.stop();
    },
  };
}
