// ajv validators compiled from the JSON Schemas, with error messages a person can act on:
// each names the field path and what is expected, and unknown fields get the nearest valid name.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { schemaFiles, readSchema } from "./schema-files.ts";

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

export type SchemaKind =
  "XTrinode" | "XTrinodeCatalog" | "XTrinodePolicy" | "GatewayRoutes" | "TrinoValues" | "GatewayConfig" | "GatewayStatus";

const schemaIdByKind: Record<SchemaKind, string> = {
  XTrinode: "https://xtrinode.io/schemas/xtrinode.schema.json",
  XTrinodeCatalog: "https://xtrinode.io/schemas/xtrinodecatalog.schema.json",
  XTrinodePolicy: "https://xtrinode.io/schemas/policy.schema.json",
  GatewayRoutes: "https://xtrinode.io/schemas/routes.schema.json",
  TrinoValues: "https://xtrinode.io/schemas/values.schema.json",
  GatewayConfig: "https://xtrinode.io/schemas/gateway-config.schema.json",
  GatewayStatus: "https://xtrinode.io/schemas/gateway-status.schema.json",
};

export interface SchemaIssue {
  /** Dotted field path inside the document, e.g. "spec.workers.max" ("" for the document itself). */
  path: string;
  message: string;
}

function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, useDefaults: false });
  addFormats(ajv);
  // Kubernetes structural-schema markers: meaningful to the API server, no-ops for validation here.
  ajv.addKeyword({ keyword: "x-kubernetes-preserve-unknown-fields" });
  ajv.addKeyword({ keyword: "x-kubernetes-int-or-string" });
  // values.schema.json: marks the documented open maps of the Helm values (keys not checked).
  ajv.addKeyword({ keyword: "x-open-map" });
  for (const file of schemaFiles) ajv.addSchema(readSchema(file));
  return ajv;
}

let ajvInstance: Ajv | undefined;
const validators = new Map<SchemaKind, ValidateFunction>();

function validatorFor(kind: SchemaKind): ValidateFunction {
  let validate = validators.get(kind);
  if (!validate) {
    ajvInstance ??= createAjv();
    validate = ajvInstance.getSchema(schemaIdByKind[kind]);
    if (!validate) throw new Error(`no schema registered for ${kind}`);
    validators.set(kind, validate);
  }
  return validate;
}

/** Validates one document against the schema of its kind; returns [] when valid. */
export function validateAgainstSchema(kind: SchemaKind, doc: unknown): SchemaIssue[] {
  const validate = validatorFor(kind);
  if (validate(doc)) return [];
  return describeErrors(validate.errors ?? [], validate.schema);
}

function pointerToPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join("")
    .replace(/^\./, "");
}

function joinPath(base: string, key: string): string {
  return base ? `${base}.${key}` : key;
}

/** Levenshtein distance, for "did you mean" suggestions on unknown fields. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

export function nearestName(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function describeErrors(errors: ErrorObject[], _rootSchema: unknown): SchemaIssue[] {
  // anyOf branches each report their own failure; keep one message per path, preferring the anyOf summary.
  const issues: SchemaIssue[] = [];
  const seen = new Set<string>();
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === "anyOf").map((e) => e.instancePath));
  for (const error of errors) {
    const path = pointerToPath(error.instancePath);
    if (error.keyword !== "anyOf" && anyOfPaths.has(error.instancePath) && error.schemaPath.includes("/anyOf/")) continue;
    // A key failing propertyNames is reported once, by its "propertyNames" error (which names the key).
    if (error.propertyName !== undefined) continue;
    const issue = describeError(error, path);
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}

/** Descriptions of the key rules propertyNames refers to (their $ref), for messages that explain the rule. */
const propertyNameRules = new Map<string, string>(
  schemaFiles.flatMap((file) => {
    const defs = (readSchema(file).$defs ?? {}) as Record<string, { type?: string; description?: string }>;
    return Object.entries(defs)
      .filter(([, def]) => def.type === "string" && typeof def.description === "string")
      .flatMap(([name, def]): Array<[string, string]> => [
        [`#/$defs/${name}`, def.description!],
        [`${file}#/$defs/${name}`, def.description!],
      ]);
  }),
);

function describeError(error: ErrorObject, path: string): SchemaIssue {
  const params = error.params as Record<string, unknown>;
  const schema = error.parentSchema as Record<string, unknown> | undefined;
  switch (error.keyword) {
    case "additionalProperties": {
      const field = String(params.additionalProperty);
      const known = Object.keys((schema?.properties as Record<string, unknown>) ?? {});
      const suggestion = nearestName(field, known);
      const hint = suggestion ? `; did you mean "${suggestion}"?` : known.length ? `; valid fields: ${known.join(", ")}` : "";
      return { path: joinPath(path, field), message: `unknown field "${field}"${hint}` };
    }
    case "required":
      return { path: joinPath(path, String(params.missingProperty)), message: "is required" };
    case "type":
      return { path, message: `must be of type ${String(params.type)}` };
    case "enum":
      return { path, message: `must be one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}` };
    case "const":
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case "pattern": {
      const description = typeof schema?.description === "string" ? ` (${schema.description})` : "";
      return { path, message: `must match ${String(params.pattern)}${description}` };
    }
    case "propertyNames": {
      const key = String(params.propertyName);
      const names = (schema?.propertyNames ?? {}) as Record<string, unknown>;
      const rule = typeof names.$ref === "string" ? propertyNameRules.get(names.$ref) : undefined;
      return {
        path: joinPath(path, JSON.stringify(key)),
        message: `is not a valid key${rule ? ` (${rule})` : ""}; rename it to the property name Trino documents`,
      };
    }
    case "anyOf": {
      const description = typeof schema?.description === "string" ? schema.description : "a valid value";
      return { path, message: `must be ${description.charAt(0).toLowerCase()}${description.slice(1).replace(/\.$/, "")}` };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return { path, message: `must be ${String(params.comparison)} ${String(params.limit)}` };
    default:
      return { path, message: error.message ?? error.keyword };
  }
}
