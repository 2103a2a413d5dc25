// Shared helpers of the renderer tests: fixture paths, the golden text of a render, and spec builders.
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatIssues, loadSpecs, renderAll, RenderError, toYamlStream, type RenderAllResult } from "../../renderer/index.ts";
import type { XTrinode, XTrinodeCatalog } from "../../schemas/generated/types.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const specsDir = path.join(repoRoot, "fixtures", "specs");
export const goldenDir = path.join(repoRoot, "fixtures", "golden");
export const invalidDir = path.join(repoRoot, "fixtures", "invalid");
export const examplesDir = path.join(repoRoot, "examples", "specs");

export function fixtureNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.replace(/\.yaml$/, ""))
    .sort();
}

export async function renderFixture(name: string): Promise<RenderAllResult> {
  return renderAll(await loadSpecs([path.join(specsDir, `${name}.yaml`)]));
}

/** Golden text of a render: routes, then each runtime's values and objects, as one YAML stream. */
export function goldenText(result: RenderAllResult): string {
  const parts = [`# routes\n${toYamlStream([result.routes])}`];
  for (const ns of result.namespaces) if (ns.objects.length) parts.push(`# namespace ${ns.namespace}\n${toYamlStream(ns.objects)}`);
  for (const runtime of result.runtimes) {
    parts.push(`# values ${runtime.namespace}/${runtime.name}\n${toYamlStream([runtime.values])}`);
    parts.push(`# objects ${runtime.namespace}/${runtime.name}\n${toYamlStream(runtime.objects)}`);
  }
  return parts.join("");
}

/** The error text for an invalid fixture (paths relative to the repository). */
export async function invalidFixtureText(name: string): Promise<string> {
  const file = path.join(invalidDir, `${name}.yaml`);
  try {
    renderAll(await loadSpecs([file]));
  } catch (error) {
    const text = error instanceof RenderError ? formatIssues(error.issues) : (error as Error).message;
    return text.split(`${repoRoot}/`).join("") + "\n";
  }
  throw new Error(`fixtures/invalid/${name}.yaml rendered without error`);
}

/** An XTrinode as a spec author writes it (namespace team-a unless given): one builder for every renderer test. */
export const runtime = (name: string, spec: XTrinode["spec"] = {}, namespace = "team-a"): XTrinode => ({
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinode",
  metadata: { name, namespace },
  spec,
});

/** An XTrinodeCatalog as a spec author writes it (namespace team-a unless given). */
export const catalog = (name: string, spec: XTrinodeCatalog["spec"], namespace = "team-a"): XTrinodeCatalog => ({
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodeCatalog",
  metadata: { name, namespace },
  spec,
});
