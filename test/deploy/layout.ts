// The install layout under deploy/, rendered once per test run: every kustomization and every YAML file.
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildKustomization, kustomizationFile, type KubeObject, type LoadedResource } from "./kustomize.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const deployDir = path.join(repoRoot, "deploy");

/** deploy/ itself is the default install (CRDs + base); overlays build on it. */
export const defaultInstallDir = deployDir;
export const exampleOverlayDir = path.join(deployDir, "overlays", "example");
/** Optional: alerts and scraping (needs the Prometheus Operator), applied on its own. */
export const monitoringDir = path.join(deployDir, "monitoring");

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}

export function isKustomizationFile(file: string): boolean {
  return ["kustomization.yaml", "kustomization.yml", "Kustomization"].includes(path.basename(file));
}

/** Every manifest file in deploy/ (YAML files that are not kustomization files). */
export function manifestFiles(): string[] {
  return walk(deployDir)
    .filter((file) => /\.ya?ml$/.test(file) && !isKustomizationFile(file))
    .sort();
}

/** Every directory under deploy/ that holds a kustomization. */
export function kustomizationDirs(): string[] {
  return [deployDir, ...walk(deployDir).map((file) => path.dirname(file))]
    .filter((dir, index, all) => all.indexOf(dir) === index && kustomizationFile(dir) !== undefined)
    .sort();
}

const builds = new Map<string, LoadedResource[]>();

/** The objects a kustomization renders (cached: tests only read them). */
export function build(dir: string): LoadedResource[] {
  let result = builds.get(dir);
  if (!result) {
    result = buildKustomization(dir);
    builds.set(dir, result);
  }
  return result;
}

export function objectsOf(dir: string): KubeObject[] {
  return build(dir).map((resource) => resource.object);
}

export function relative(file: string): string {
  return path.relative(repoRoot, file);
}

export function objectLabel(object: KubeObject): string {
  return `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`;
}
