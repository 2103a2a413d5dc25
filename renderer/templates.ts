// The Handlebars templates in templates/: compiled once per process, then reused.
// Templates render YAML text in which every value is inserted through the `json` helper. The helper
// does not print the value: it prints a slot token and keeps the value aside; after parsing the YAML
// skeleton, tokens are replaced by their values. So no user string is ever parsed as YAML (it cannot
// break out of its field), and the skeleton, identical for every runtime taking the same template
// branches, is parsed once and cached.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import yaml from "js-yaml";
import { quantitiesAsStrings } from "./quantity.ts";
import type { KubeObject } from "./types.ts";

export const templatesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "templates");

type Template = (context: unknown, options?: { data?: Record<string, unknown> }) => string;

function createEnvironment(): typeof Handlebars {
  const hbs = Handlebars.create();
  hbs.registerHelper("json", function (value: unknown, options: { data: { slots?: unknown[] } }) {
    const slots = options.data.slots;
    if (!slots) throw new Error("json helper used outside renderObject");
    slots.push(value === undefined ? null : value);
    return slotToken(slots.length - 1);
  });
  hbs.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  hbs.registerHelper("isNumber", (value: unknown) => typeof value === "number");
  hbs.registerHelper("concat", (...args: unknown[]) => args.slice(0, -1).join(""));
  hbs.registerHelper("nonEmpty", (value: unknown) => isNonEmpty(value));
  hbs.registerHelper("nonEmptyOrNull", (value: unknown) => (isNonEmpty(value) ? value : null));
  const partialsDir = path.join(templatesDir, "partials");
  for (const file of readdirSync(partialsDir)
    .filter((f) => f.endsWith(".hbs"))
    .sort()) {
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

const SLOT = /^__xtn_slot_(\d+)__$/;
function slotToken(index: number): string {
  return `__xtn_slot_${index}__`;
}

/** Parsed skeletons by their text (bounded by the number of template branch combinations). */
const skeletons = new Map<string, unknown>();

function parseSkeleton(name: string, text: string): unknown {
  let parsed = skeletons.get(text);
  if (parsed === undefined) {
    try {
      parsed = yaml.load(text, { schema: yaml.JSON_SCHEMA, filename: `templates/${name}.yaml.hbs` });
    } catch (error) {
      throw new Error(`template ${name} rendered invalid YAML: ${(error as Error).message}\n${text}`);
    }
    skeletons.set(text, parsed);
  }
  return parsed;
}

/** A fresh copy of a JSON value (rendered objects share nothing with the values or each other). */
function copyJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyJson);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = copyJson((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

function fill(node: unknown, slots: unknown[]): unknown {
  if (typeof node === "string") {
    const match = SLOT.exec(node);
    return match ? copyJson(slots[Number(match[1])]) : node;
  }
  if (Array.isArray(node)) return node.map((item) => fill(item, slots));
  if (node && typeof node === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(node)) out[key] = fill((node as Record<string, unknown>)[key], slots);
    return out;
  }
  return node;
}

/** Renders one template into zero or one Kubernetes object (empty output = not rendered). */
export function renderObject(name: string, context: unknown): KubeObject | undefined {
  const slots: unknown[] = [];
  const text = template(name)(context, { data: { slots } });
  if (!text.trim()) return undefined;
  return quantitiesAsStrings(fill(parseSkeleton(name, text), slots) as KubeObject);
}

/** Number of distinct parsed skeletons (tests check the cache stays bounded). */
export function skeletonCacheSize(): number {
  return skeletons.size;
}

/** Template names, for tests that check every template is exercised. */
export function templateNames(): string[] {
  return readdirSync(templatesDir)
    .filter((f) => f.endsWith(".yaml.hbs"))
    .map((f) => f.replace(/\.yaml\.hbs$/, ""))
    .sort();
}
