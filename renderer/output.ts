// Serialising rendered objects: YAML streams (deterministic: key order as rendered, no line folding).
import yaml from "js-yaml";

export function toYaml(doc: unknown): string {
  return yaml.dump(doc, { noRefs: true, lineWidth: -1, sortKeys: false });
}

/** A multi-document YAML stream, `---` before each document. */
export function toYamlStream(docs: unknown[]): string {
  return docs.map((doc) => `---\n${toYaml(doc)}`).join("");
}

/** File name of one object under `render --out`: `<namespace>/<kind>-<name>.<ext>`. */
export function objectFileName(object: { kind: string; metadata: { name: string; namespace?: string } }, ext: "yaml" | "json"): string {
  return `${object.metadata.namespace ?? "_cluster"}/${object.kind.toLowerCase()}-${object.metadata.name}.${ext}`;
}
