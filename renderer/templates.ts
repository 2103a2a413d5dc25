// The Handlebars templates in templates/: compiled once per process, then reused.
// Templates render YAML text; every value is inserted through the `json` helper (a JSON scalar or
// flow collection is valid YAML), so a user string can never break out of its field.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import yaml from "js-yaml";
import type { KubeObject } from "./types.ts";

export const templatesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "templates");

type Template = (context: unknown) => string;

function createEnvironment(): typeof Handlebars {
  const hbs = Handlebars.create();
  hbs.registerHelper("json", (value: unknown) => (value === undefined ? "null" : JSON.stringify(value)));
  hbs.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  hbs.registerHelper("isNumber", (value: unknown) => typeof value === "number");
  hbs.registerHelper("concat", (...args: unknown[]) => args.slice(0, -1).join(""));
  hbs.registerHelper("nonEmpty", (value: unknown) => isNonEmpty(value));
  hbs.registerHelper("nonEmptyOrNull", (value: unknown) => (isNonEmpty(value) ? value : null));
  const partialsDir = path.join(templatesDir, "partials");
  for (const file of readdirSync(partialsDir).filter((f) => f.endsWith(".hbs")).sort()) {
    hbs.registerPartial(path.basename(file, ".hbs"), readFileSync(path.join(partialsDir, file), "utf8"));
  }
  return hbs;
}

function isNonEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === "object") return Object.keys(value).length > 0;
  return Boolean(value);
}

let environment: typeof Handlebars | undefined;
const cache = new Map<string, Template>();

/** The compiled template `templates/<name>.yaml.hbs` (compiled on first use, then cached). */
export function template(name: string): Template {
  let compiled = cache.get(name);
  if (!compiled) {
    environment ??= createEnvironment();
    const source = readFileSync(path.join(templatesDir, `${name}.yaml.hbs`), "utf8");
    // noEscape: output is YAML, not HTML; safety comes from the json helper. strict: a typo in a
    // template's field name fails loudly instead of rendering null.
    compiled = environment.compile(source, { noEscape: true, strict: true, knownHelpersOnly: false, assumeObjects: true }) as Template;
    cache.set(name, compiled);
  }
  return compiled;
}

/** Renders one template into zero or one Kubernetes object (empty output = not rendered). */
export function renderObject(name: string, context: unknown): KubeObject | undefined {
  const text = template(name)(context);
  if (!text.trim()) return undefined;
  try {
    return yaml.load(text, { schema: yaml.JSON_SCHEMA, filename: `templates/${name}.yaml.hbs` }) as KubeObject;
  } catch (error) {
    throw new Error(`template ${name} rendered invalid YAML: ${(error as Error).message}\n${text}`);
  }
}

/** Template names, for tests that check every template is exercised. */
export function templateNames(): string[] {
  return readdirSync(templatesDir)
    .filter((f) => f.endsWith(".yaml.hbs"))
    .map((f) => f.replace(/\.yaml\.hbs$/, ""))
    .sort();
}
