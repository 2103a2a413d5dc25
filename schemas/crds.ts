// Derives the CustomResourceDefinitions (deploy/crds/*.yaml) from the JSON Schemas.
// CRD schemas must be structural (apiextensions.k8s.io/v1): every $ref inlined, no
// additionalProperties next to properties, `const` as a one-value enum, no $id/$defs, metadata
// left to the API server, int-or-string as the anyOf form Kubernetes accepts.
import { addCelValidations } from "./api/cel-rules.ts";
import { group, kinds, plurals, version } from "./api/group.ts";
import { xtrinodeCatalogPrinterColumns, xtrinodePrinterColumns, type PrinterColumn } from "./printer-columns.ts";
import { readSchema, type JsonSchema } from "./schema-files.ts";

interface CrdSpec {
  file: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  printerColumns: PrinterColumn[];
}

const crds: CrdSpec[] = [
  {
    file: "xtrinode.schema.json",
    kind: kinds.runtime,
    plural: plurals.runtime,
    singular: "xtrinode",
    shortNames: ["xtn"],
    printerColumns: xtrinodePrinterColumns(),
  },
  {
    file: "xtrinodecatalog.schema.json",
    kind: kinds.catalog,
    plural: plurals.catalog,
    singular: "xtrinodecatalog",
    shortNames: ["xtncat"],
    printerColumns: xtrinodeCatalogPrinterColumns(),
  },
];

/** File name under deploy/crds/ for a CRD. */
export function crdFileName(plural: string): string {
  return `${group}_${plural}.yaml`;
}

type Resolver = (ref: string, from: JsonSchema) => { schema: JsonSchema; root: JsonSchema };

function makeResolver(): Resolver {
  const byFile = new Map<string, JsonSchema>();
  const file = (name: string) => {
    let schema = byFile.get(name);
    if (!schema) byFile.set(name, (schema = readSchema(name)));
    return schema;
  };
  return (ref, from) => {
    const [target, pointer = ""] = ref.split("#");
    const root = target ? file(target) : from;
    const schema = pointer
      .split("/")
      .filter(Boolean)
      .reduce<JsonSchema>((node, part) => node[part] as JsonSchema, root);
    if (!schema) throw new Error(`unresolvable $ref ${ref}`);
    return { schema, root };
  };
}

// propertyNames has no place in a structural schema, and its CEL equivalent (self.all(k, k.matches(…)))
// is over the API server's cost budget for maps whose key length a CRD cannot bound. The operator
// enforces it instead: validateRuntime refuses the spec and reports it in the runtime's status.
const DROP = new Set(["$id", "$schema", "$defs", "title", "const", "x-open-map", "propertyNames"]);

/** One schema node made structural; `root` is the document its local $refs point into. */
function structural(node: JsonSchema, root: JsonSchema, resolve: Resolver): JsonSchema {
  if (typeof node.$ref === "string") {
    const { schema, root: targetRoot } = resolve(node.$ref, root);
    const { $ref: _ref, ...rest } = node;
    return structural({ ...schema, ...rest }, targetRoot, resolve);
  }
  if (node["x-kubernetes-int-or-string"]) {
    return {
      ...(node.description ? { description: node.description } : {}),
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
    };
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROP.has(key)) continue;
    if (key === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, structural(v, root, resolve)]),
      );
    } else if (key === "items" || (key === "additionalProperties" && typeof value === "object")) {
      out[key] = structural(value as JsonSchema, root, resolve);
    } else if (key === "additionalProperties") {
      // `false` is the default for structural schemas with properties (unknown fields are pruned).
      continue;
    } else out[key] = value;
  }
  if ("const" in node) out.enum = [node.const];
  if (out.properties && out.additionalProperties) delete out.additionalProperties;
  if (Array.isArray(out.type)) throw new Error(`CRD schemas cannot have union types (${JSON.stringify(out.type)})`);
  return out;
}

function openApiSchema(file: string): JsonSchema {
  const root = readSchema(file);
  const resolve = makeResolver();
  const schema = structural(root, root, resolve);
  const properties = schema.properties as Record<string, JsonSchema>;
  // The API server owns metadata's schema; a CRD may only say it is an object.
  properties.metadata = { type: "object" };
  return {
    ...schema,
    required: ((schema.required as string[]) ?? []).filter((r) => r !== "apiVersion" && r !== "kind" && r !== "metadata"),
  };
}

/** The structural schema plus the cross-field rules as CEL (schemas/api/cel-rules.ts). */
function openApiSchemaWithRules(kind: string, file: string): JsonSchema {
  const schema = openApiSchema(file);
  addCelValidations(kind, schema);
  return schema;
}

/** The CRD objects, in a stable order. */
export function generateCrds(): Array<Record<string, unknown>> {
  return crds.map((crd) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${crd.plural}.${group}`,
      labels: { "app.kubernetes.io/name": "xtrinode", "app.kubernetes.io/managed-by": "xtrinode" },
    },
    spec: {
      group,
      scope: "Namespaced",
      names: {
        kind: crd.kind,
        listKind: `${crd.kind}List`,
        plural: crd.plural,
        singular: crd.singular,
        shortNames: crd.shortNames,
        categories: ["xtrinode", "all"],
      },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: crd.printerColumns,
          schema: { openAPIV3Schema: openApiSchemaWithRules(crd.kind, crd.file) },
        },
      ],
    },
  }));
}

const generatedHeader = "# GENERATED by `npm run gen` from schemas/*.schema.json. Do not edit by hand.\n";

/** CRD file name → content (deploy/crds/, GitOps _crds/). */
export function crdFiles(dump: (doc: unknown) => string): Map<string, string> {
  const files = new Map<string, string>();
  for (const crd of generateCrds()) {
    const plural = (crd.spec as { names: { plural: string } }).names.plural;
    files.set(crdFileName(plural), `${generatedHeader}${dump(crd)}`);
  }
  return files;
}

/**
 * deploy/crds/ as `npm run gen` writes it: the CRDs and a kustomization listing them (Kustomize has
 * no globs, and an overlay may include only directories, not files, outside its own).
 */
export function crdDeployFiles(dump: (doc: unknown) => string): Map<string, string> {
  const files = crdFiles(dump);
  const kustomization = { apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [...files.keys()] };
  files.set("kustomization.yaml", `${generatedHeader}${dump(kustomization)}`);
  return files;
}
