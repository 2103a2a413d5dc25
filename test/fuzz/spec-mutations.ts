// Generators of malformed XTrinode / XTrinodeCatalog spec files and routes documents for the fuzz
// tests. Each case says which field its defect is about, so the test can check the error names it.
import yaml from "js-yaml";
import type { Rng } from "../support/rng.ts";

export interface MalformedCase {
  /** What kind of defect (for the summary). */
  defect: string;
  /** File text (YAML or JSON). */
  text: string;
  /** A token the error must mention: a field name, or "" when only file/line can be named (bad YAML). */
  mentions: string;
}

type Doc = Record<string, unknown>;

function baseRuntime(rng: Rng): Doc {
  return {
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "XTrinode",
    metadata: { name: `rt-${rng.int(0, 999)}`, namespace: "team-a", labels: { team: "a" } },
    spec: {
      workers: { mode: "fixed", count: rng.int(0, 5) },
      lifecycle: { suspended: rng.chance(0.5), wakeTTL: "30m" },
      route: { hostnames: ["a.trino.example.com"] },
      catalogs: { names: ["tpch"] },
    },
  };
}

function baseCatalog(rng: Rng): Doc {
  return {
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "XTrinodeCatalog",
    metadata: { name: `cat-${rng.int(0, 999)}`, namespace: "team-a" },
    spec: { connector: "tpch", properties: { "tpch.splits-per-node": "4" } },
  };
}

/** Sets (or deletes, with value undefined) a dotted path, creating maps on the way. */
function setPath(doc: Doc, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = doc;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Doc;
  }
  const last = keys.at(-1)!;
  if (value === undefined) delete node[last];
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
}

const runtimeTyped: Array<[string, unknown[]]> = [
  ["spec.workers.count", ["three", true, [], { n: 1 }, 1.5]],
  ["spec.workers.mode", [5, "turbo", null, ["fixed"]]],
  ["spec.lifecycle.suspended", ["yes", 1, "true", {}]],
  ["spec.route.hostnames", ["a.example.com", 7, [{}], ["UPPER_CASE!"]]],
  ["spec.catalogs.names", ["tpch", 3, [1, 2]]],
  ["spec.workers", ["fixed", 4, ["a"]]],
  ["spec", ["a string", 12, []]],
  ["metadata", ["name", [1]]],
  ["spec.route.default", ["yes", 0]],
];
const catalogTyped: Array<[string, unknown[]]> = [
  ["spec.connector", [3, true, "Not-A-Connector", "", ["tpch"]]],
  ["spec.properties", ["k=v", [1], 5]],
  ["spec.catalogName", ["Has-Dash", 9, "1starts_with_digit"]],
  ["spec", [false, "tpch"]],
];
const badNames = ["Bad_Name", "-leading", "trailing-", "UPPER", "", "a.b", "with space", "x".repeat(64), "ünïcode", "a/b"];
const outOfRange: Array<[string, unknown]> = [
  ["spec.workers.count", -1],
  ["spec.workers.count", -100000],
  ["spec.workers.count", 2.5],
  ["spec.workers.gracefulShutdown.gracePeriodSeconds", -5],
];
const malformedYaml = [
  "apiVersion: xtrinode.io/v1alpha1\nkind: XTrinode\nmetadata: {name: a\nspec: {}\n",
  "kind: XTrinode\n  metadata:\n name: x\n\t- spec\n",
  "kind: XTrinode\nkind: XTrinode\nmetadata: {name: dup}\nspec: {}\n",
  "a: b: c: d\n",
  "spec: [1, 2\n",
  'apiVersion: xtrinode.io/v1alpha1\nkind: XTrinode\nmetadata:\n  name: "unterminated\nspec: {}\n',
  '{ "kind": "XTrinode", "metadata": { "name": "x" }, ',
  "--- !!binary |\n  not base64 @@@\n",
  "key: &a [*a, *b]\n",
  "? [complex key\n",
];
const unknownParents = {
  XTrinode: ["", "spec", "spec.workers", "spec.lifecycle", "spec.route", "spec.catalogs"],
  XTrinodeCatalog: ["", "spec"],
};

function nestedGarbage(rng: Rng, depth: number): unknown {
  if (depth === 0) return rng.pick([null, 1, "x", true, [], {}]);
  const node: Doc = {};
  for (let i = 0; i < rng.int(1, 3); i++) node[`g${rng.int(0, 99)}`] = nestedGarbage(rng, depth - 1);
  return rng.chance(0.3) ? [node] : node;
}

function dump(rng: Rng, doc: unknown): string {
  // JSON files are read by the same YAML loader; keep both spellings in the mix.
  return rng.chance(0.3) ? JSON.stringify(doc) : yaml.dump(doc, { noRefs: true, lineWidth: -1 });
}

export function malformedSpec(rng: Rng): MalformedCase {
  const kind = rng.chance(0.6) ? "XTrinode" : "XTrinodeCatalog";
  const doc = kind === "XTrinode" ? baseRuntime(rng) : baseCatalog(rng);
  const defect = rng.pick([
    "wrong-type",
    "unknown-field",
    "bad-name",
    "missing-field",
    "out-of-range",
    "malformed-yaml",
    "huge-string",
    "nested-garbage",
    "proto-key",
    "wrong-kind",
    "not-a-mapping",
    "wrong-api-version",
  ]);
  switch (defect) {
    case "wrong-type": {
      const [path, values] = rng.pick(kind === "XTrinode" ? runtimeTyped : catalogTyped);
      setPath(doc, path, rng.pick(values));
      return { defect, text: dump(rng, doc), mentions: path.split(".").at(-1)! };
    }
    case "unknown-field": {
      const parent = rng.pick(unknownParents[kind]);
      const field = rng.pick([
        "replicas",
        "workerCount",
        "extra",
        "suspend",
        "x".repeat(rng.int(1, 40)),
        "constructor",
        "toString",
        "hasOwnProperty",
      ]);
      setPath(doc, parent ? `${parent}.${field}` : field, rng.pick([1, "v", { a: 1 }, [1], null]));
      return { defect, text: dump(rng, doc), mentions: field };
    }
    case "bad-name": {
      const field = rng.chance(0.7) ? "name" : "namespace";
      setPath(doc, `metadata.${field}`, rng.pick(badNames));
      return { defect, text: dump(rng, doc), mentions: field };
    }
    case "missing-field": {
      const path = rng.pick(
        kind === "XTrinode"
          ? ["metadata", "metadata.name", "spec", "apiVersion"]
          : ["metadata", "metadata.name", "spec", "spec.connector", "apiVersion"],
      );
      setPath(doc, path, undefined);
      return { defect, text: dump(rng, doc), mentions: path.split(".").at(-1)! };
    }
    case "out-of-range": {
      if (kind === "XTrinodeCatalog") {
        setPath(doc, "metadata.name", "n".repeat(rng.int(64, 300)));
        return { defect, text: dump(rng, doc), mentions: "name" };
      }
      const [path, value] = rng.pick(outOfRange);
      setPath(doc, path, value);
      return { defect, text: dump(rng, doc), mentions: path.split(".").at(-1)! };
    }
    case "malformed-yaml":
      return { defect, text: rng.pick(malformedYaml), mentions: "" };
    case "huge-string": {
      const path =
        kind === "XTrinode"
          ? rng.pick(["metadata.name", "spec.workers.mode", "spec.lifecycle.wakeTTL"])
          : rng.pick(["metadata.name", "spec.connector"]);
      // Upper case and punctuation: not a DNS label, connector, mode or duration however long.
      setPath(doc, path, "Z!".repeat(rng.int(50_000, 150_000)));
      return { defect, text: dump(rng, doc), mentions: path.split(".").at(-1)! };
    }
    case "nested-garbage": {
      const path =
        kind === "XTrinode"
          ? rng.pick(["spec.workers.keda", "spec.route", "spec.lifecycle", "spec.garbage"])
          : rng.pick(["spec.garbage", "status"]);
      const wrapped = rng.chance(0.3) ? [nestedGarbage(rng, rng.int(3, 12))] : { junk: nestedGarbage(rng, rng.int(3, 12)) };
      setPath(doc, path, wrapped);
      const mentions = path === "spec.garbage" ? "garbage" : Array.isArray(wrapped) ? path.split(".").at(-1)! : "junk";
      return { defect, text: dump(rng, doc), mentions };
    }
    case "proto-key": {
      const parent = rng.pick(kind === "XTrinode" ? ["", "spec", "spec.workers", "metadata.labels"] : ["", "spec"]);
      const key = rng.pick(["__proto__", "constructor", "prototype"]);
      const payload = { polluted: "yes", [key === "constructor" ? "prototype" : "x"]: { polluted: "yes" } };
      const obj = parent ? parent.split(".").reduce<Doc>((n, k) => n[k] as Doc, doc) : doc;
      Object.defineProperty(obj, key, { value: payload, enumerable: true, configurable: true, writable: true });
      // A label value must be a string, so a map under labels is invalid too.
      return { defect, text: rng.chance(0.5) ? JSON.stringify(doc) : yaml.dump(doc, { noRefs: true }), mentions: key };
    }
    case "wrong-kind":
      doc.kind = rng.pick(["XTrinodes", "xtrinode", "Deployment", 42, null]);
      return { defect, text: dump(rng, doc), mentions: "kind" };
    case "not-a-mapping":
      return { defect, text: rng.pick(["- a\n- b\n", "just a string\n", "42\n", "[1, 2, 3]\n", "true\n"]), mentions: "mapping" };
    default: // wrong-api-version
      doc.apiVersion = rng.pick(["v1", "xtrinode.io/v1", "xtrinode.io/v1alpha2", 1]);
      return { defect, text: dump(rng, doc), mentions: "apiVersion" };
  }
}

function goodRoutes(rng: Rng): Doc {
  return {
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "GatewayRoutes",
    routes: Array.from({ length: rng.int(1, 4) }, (_, i) => ({
      namespace: "team-a",
      name: `r${i}`,
      backend: `http://127.0.0.1:${8000 + i}`,
      state: "RUNNING",
    })),
  };
}

/** A malformed routes.yaml text (never a valid GatewayRoutes document with entries). */
export function malformedRoutes(rng: Rng): { defect: string; text: string } {
  const doc = goodRoutes(rng);
  const routes = doc.routes as Doc[];
  const entry = routes[rng.int(0, routes.length - 1)];
  const defect = rng.pick([
    "yaml",
    "empty",
    "no-routes",
    "entry-type",
    "entry-field",
    "bad-state",
    "bad-backend",
    "bad-name",
    "unknown",
    "proto",
    "huge",
    "garbage",
    "kind",
    "scalar",
  ]);
  switch (defect) {
    case "yaml":
      return {
        defect,
        text: rng.pick(["routes: [", "routes:\n- {name: a\n", "apiVersion: x\n\tkind: y\n", "a: b: c", "{{{", "routes: *missing"]),
      };
    case "empty":
      return { defect, text: rng.pick(["", "\n", "# only a comment\n", "---\n", "null\n"]) };
    case "no-routes":
      doc.routes = rng.pick([[], undefined, null, {}]);
      if (doc.routes === undefined) delete doc.routes;
      break;
    case "entry-type":
      routes[0] = rng.pick(["a", 1, null, [1], true]) as unknown as Doc;
      break;
    case "entry-field":
      delete entry[rng.pick(["name", "namespace", "backend", "state"])];
      break;
    case "bad-state":
      entry.state = rng.pick(["running", "ON", 1, null, ""]);
      break;
    case "bad-backend":
      entry.backend = rng.pick(["ftp://x", "127.0.0.1:8080", "http://", "http://a/b", 8080, ""]);
      break;
    case "bad-name":
      entry[rng.pick(["name", "namespace"])] = rng.pick(badNames);
      break;
    case "unknown":
      (rng.chance(0.5) ? entry : doc)[rng.pick(["weight", "extra", "backends"])] = 1;
      break;
    case "proto":
      Object.defineProperty(rng.chance(0.5) ? entry : doc, rng.pick(["__proto__", "constructor"]), {
        value: { polluted: "yes" },
        enumerable: true,
      });
      return { defect, text: JSON.stringify(doc) };
    case "huge":
      entry.name = "Q".repeat(rng.int(10_000, 100_000));
      break;
    case "garbage":
      entry.hostnames = [nestedGarbage(rng, 6)];
      break;
    case "kind":
      doc.kind = rng.pick(["Routes", "ConfigMap", 3]);
      break;
    default:
      return { defect, text: rng.pick(["42", "just text", "[1,2]", "true"]) };
  }
  return { defect, text: rng.chance(0.3) ? JSON.stringify(doc) : yaml.dump(doc, { noRefs: true, lineWidth: -1 }) };
}

export function validRoutesText(names: string[], backend: (name: string) => string): string {
  return yaml.dump({
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "GatewayRoutes",
    routes: names.map((name) => ({ namespace: "team-a", name, backend: backend(name), state: "RUNNING" })),
  });
}
