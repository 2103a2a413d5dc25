// Where the JSON Schemas live. They are the single source of truth: TypeScript types
// (schemas/generated/types.ts), ajv validators and the CRD manifests are derived from them.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const schemasDir = path.dirname(fileURLToPath(import.meta.url));

/** Schema files in dependency order (common first). */
export const schemaFiles = [
  "common.schema.json",
  "xtrinode.schema.json",
  "xtrinodecatalog.schema.json",
  "policy.schema.json",
  "routes.schema.json",
  "values.schema.json",
  "gateway-config.schema.json",
  "gateway-status.schema.json",
] as const;

export type JsonSchema = Record<string, unknown>;

export function readSchema(file: string): JsonSchema {
  return JSON.parse(readFileSync(path.join(schemasDir, file), "utf8")) as JsonSchema;
}
