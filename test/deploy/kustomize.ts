// A small Kustomize loader for the tests, so the install layout can be rendered without kubectl.
// It implements only the features deploy/ uses, with Kustomize's semantics, and refuses everything
// else by name (an unknown kustomization field is an error, never silently ignored):
//   resources   files (one or more YAML documents; must lie inside the kustomization's directory,
//               as Kustomize's load restrictor demands) and directories holding a kustomization
//   labels      pairs added to metadata.labels only (includeSelectors/includeTemplates must be
//               false or absent: selectors and pod templates are left alone)
//   images      name → newName / newTag / digest on every container and initContainer image
//   patches     inline JSON 6902 patches (op add / replace / remove) with a target of kind and
//               name (optional group, version, namespace)
// Resource IDs (group, kind, namespace, name) must be unique, as in Kustomize.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

export type KubeObject = Record<string, any>;

export interface LoadedResource {
  object: KubeObject;
  /** The YAML file the object came from (absolute path). */
  file: string;
}

const kustomizationFileNames = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const supportedFields = new Set(["apiVersion", "kind", "resources", "labels", "images", "patches"]);

export function kustomizationFile(dir: string): string | undefined {
  return kustomizationFileNames.map((name) => path.join(dir, name)).find((file) => existsSync(file));
}

/** Renders the kustomization in `dir` into its list of objects (what `kubectl kustomize dir` prints). */
export function buildKustomization(dir: string): LoadedResource[] {
  return build(path.resolve(dir), []);
}

function build(dir: string, stack: string[]): LoadedResource[] {
  if (stack.includes(dir)) throw new Error(`kustomization cycle: ${[...stack, dir].join(" -> ")}`);
  const file = kustomizationFile(dir);
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const kustomization = yaml.load(readFileSync(file, "utf8")) as Record<string, any>;
  if (!kustomization || typeof kustomization !== "object") throw new Error(`${file}: not a YAML mapping`);
  for (const field of Object.keys(kustomization)) {
    if (!supportedFields.has(field)) {
      throw new Error(
        `${file}: field "${field}" is not supported by the test loader (test/deploy/kustomize.ts); supported: ${[...supportedFields].join(", ")}`,
      );
    }
  }
  if (kustomization.kind !== undefined && kustomization.kind !== "Kustomization") throw new Error(`${file}: kind must be Kustomization`);

  const resources: LoadedResource[] = [];
  for (const entry of asList(kustomization.resources, file, "resources")) {
    if (typeof entry !== "string") throw new Error(`${file}: resources entries must be paths`);
    const target = path.resolve(dir, entry);
    if (!existsSync(target)) throw new Error(`${file}: resource "${entry}" does not exist`);
    if (statSync(target).isDirectory()) {
      // Kustomize: "cycle detected: candidate root … contains visited root …".
      if (!path.relative(target, dir).startsWith(".."))
        throw new Error(
          `${file}: resource "${entry}" contains this kustomization's own directory (Kustomize refuses it as a cycle); list the directories inside it instead`,
        );
      resources.push(...build(target, [...stack, dir]));
    } else {
      if (path.relative(dir, target).startsWith("..")) {
        throw new Error(`${file}: file resource "${entry}" lies outside the kustomization's directory (Kustomize refuses this)`);
      }
      resources.push(...readManifestFile(target));
    }
  }
  assertUniqueIds(resources, file);

  for (const patch of asList(kustomization.patches, file, "patches")) applyPatch(resources, patch, file);
  for (const label of asList(kustomization.labels, file, "labels")) applyLabels(resources, label, file);
  for (const image of asList(kustomization.images, file, "images")) applyImage(resources, image, file);
  return resources;
}

function asList(value: unknown, file: string, field: string): any[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${file}: ${field} must be a list`);
  return value;
}

/** Every non-empty YAML document of a file, each of which must be a Kubernetes object. */
export function readManifestFile(file: string): LoadedResource[] {
  const documents = yaml.loadAll(readFileSync(file, "utf8")).filter((doc) => doc !== null && doc !== undefined);
  return documents.map((doc, index) => {
    if (typeof doc !== "object" || Array.isArray(doc)) throw new Error(`${file}: document ${index + 1} is not a mapping`);
    const object = doc as KubeObject;
    if (typeof object.apiVersion !== "string" || typeof object.kind !== "string" || typeof object.metadata?.name !== "string") {
      throw new Error(`${file}: document ${index + 1} needs apiVersion, kind and metadata.name`);
    }
    return { object, file };
  });
}

export function resourceId(object: KubeObject): string {
  const group = object.apiVersion.includes("/") ? object.apiVersion.split("/")[0] : "";
  return `${group}/${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`;
}

function assertUniqueIds(resources: LoadedResource[], file: string): void {
  const seen = new Map<string, string>();
  for (const { object, file: source } of resources) {
    const id = resourceId(object);
    const previous = seen.get(id);
    if (previous) throw new Error(`${file}: resource ${id} appears twice (${previous} and ${source})`);
    seen.set(id, source);
  }
}

function applyLabels(resources: LoadedResource[], label: any, file: string): void {
  if (!label || typeof label.pairs !== "object") throw new Error(`${file}: labels entries need pairs`);
  if (label.includeSelectors || label.includeTemplates) {
    throw new Error(`${file}: labels with includeSelectors/includeTemplates are not supported by the test loader`);
  }
  for (const { object } of resources) object.metadata.labels = { ...(object.metadata.labels ?? {}), ...label.pairs };
}

/** Splits an image reference into name, tag and digest as Kustomize's image transformer does. */
export function parseImage(image: string): { name: string; tag?: string; digest?: string } {
  const [withoutDigest, digest] = image.split("@");
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", lastSlash + 1);
  if (colon < 0) return { name: withoutDigest, digest };
  return { name: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1), digest };
}

function applyImage(resources: LoadedResource[], rule: any, file: string): void {
  if (!rule || typeof rule.name !== "string") throw new Error(`${file}: images entries need a name`);
  const unknown = Object.keys(rule).filter((key) => !["name", "newName", "newTag", "digest"].includes(key));
  if (unknown.length) throw new Error(`${file}: images field(s) ${unknown.join(", ")} not supported by the test loader`);
  for (const { object } of resources) {
    const podSpec = object.spec?.template?.spec;
    if (!podSpec) continue;
    for (const container of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
      const current = parseImage(container.image);
      if (current.name !== rule.name) continue;
      const name = rule.newName ?? current.name;
      if (rule.digest) container.image = `${name}@${rule.digest}`;
      else {
        const tag = rule.newTag ?? current.tag;
        container.image = `${name}${tag ? `:${tag}` : ""}${!rule.newTag && current.digest ? `@${current.digest}` : ""}`;
      }
    }
  }
}

function matchesTarget(object: KubeObject, target: Record<string, string>): boolean {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
  return (
    (target.kind === undefined || target.kind === object.kind) &&
    (target.name === undefined || target.name === object.metadata.name) &&
    (target.namespace === undefined || target.namespace === object.metadata.namespace) &&
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version)
  );
}

function applyPatch(resources: LoadedResource[], patch: any, file: string): void {
  if (!patch || typeof patch.patch !== "string" || !patch.target) {
    throw new Error(`${file}: only inline JSON 6902 patches (patch + target) are supported by the test loader`);
  }
  const unknownTarget = Object.keys(patch.target).filter((key) => !["group", "version", "kind", "name", "namespace"].includes(key));
  if (unknownTarget.length) throw new Error(`${file}: patch target field(s) ${unknownTarget.join(", ")} not supported by the test loader`);
  const operations = yaml.load(patch.patch);
  if (!Array.isArray(operations)) throw new Error(`${file}: patch for ${JSON.stringify(patch.target)} is not a JSON 6902 operation list`);
  const targets = resources.filter(({ object }) => matchesTarget(object, patch.target));
  if (targets.length === 0) throw new Error(`${file}: patch target ${JSON.stringify(patch.target)} matches no resource`);
  for (const { object } of targets) for (const operation of operations) applyOperation(object, operation, file);
}

function decodePointer(pointer: string, file: string): string[] {
  if (!pointer.startsWith("/")) throw new Error(`${file}: JSON pointer "${pointer}" must start with /`);
  return pointer
    .slice(1)
    .split("/")
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function applyOperation(object: KubeObject, operation: any, file: string): void {
  const { op, path: pointer, value } = operation ?? {};
  if (!["add", "replace", "remove"].includes(op)) throw new Error(`${file}: JSON 6902 op "${op}" not supported by the test loader`);
  const parts = decodePointer(pointer, file);
  const last = parts.pop() as string;
  let parent: any = object;
  for (const part of parts) {
    parent = Array.isArray(parent) ? parent[Number(part)] : parent?.[part];
    if (parent === undefined || parent === null) throw new Error(`${file}: path ${pointer} does not exist in ${resourceId(object)}`);
  }
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length || (op !== "add" && index >= parent.length)) {
      throw new Error(`${file}: index ${last} out of range at ${pointer} in ${resourceId(object)}`);
    }
    if (op === "add") parent.splice(index, 0, value);
    else if (op === "replace") parent[index] = value;
    else parent.splice(index, 1);
    return;
  }
  if (op !== "add" && !(last in parent)) throw new Error(`${file}: path ${pointer} does not exist in ${resourceId(object)}`);
  if (op === "remove") delete parent[last];
  else parent[last] = value;
}
