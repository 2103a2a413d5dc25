// Bounds on what a spec may expand to, whatever its author wrote. A YAML alias (*name) is a pointer
// to an earlier node: a kilobyte of nested aliases parses in microseconds into a graph that is
// exponentially large as a tree, and everything after the parser (schema checks, the overlay merge,
// templates, serialisation) walks it as a tree. So every spec is measured and copied as a tree here,
// counting as it goes, and refused the moment it is larger than Kubernetes would ever store: the work
// is bounded by the limit, never by the expansion. Documents read from the API server (JSON) go through
// the same check in validation, so the operator is bounded too.

export const SPEC_LIMITS = {
  /** Bytes of one spec file (YAML text). */
  fileBytes: 32 * 1024 * 1024,
  /**
   * Documents in one file, counted from their `---` lines before parsing: the YAML parser builds every
   * document of a file before handing over the first, and millions of tiny documents cost gigabytes.
   */
  documentsPerFile: 200_000,
  /**
   * Bytes of one document as compact JSON, aliases expanded. The API server refuses objects above
   * 1.5 MiB (etcd's default request limit), so a larger spec could never be applied anyway.
   */
  documentBytes: 1536 * 1024,
  /** Nesting depth of one document (maps and lists); real specs stay below 20. */
  depth: 64,
};

/** Where a document broke a limit (field path, `metadata.name`-style) and why, with the fix. */
export interface LimitIssue {
  path: string;
  message: string;
}

class LimitExceeded extends Error {
  readonly issue: LimitIssue;
  constructor(issue: LimitIssue) {
    super(issue.message);
    this.issue = issue;
  }
}

/** A map as JSON or YAML's core schema makes them (not a Date, Buffer or class instance). */
function isJsonMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function pathText(path: Array<string | number>): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

/**
 * The document as a plain tree (maps, lists, strings, numbers, booleans, null; aliases expanded, no
 * shared nodes), or the first limit it breaks. Work is O(SPEC_LIMITS.documentBytes) at most.
 */
export function copyWithinLimits(doc: unknown, limits = SPEC_LIMITS): { tree: unknown } | { issue: LimitIssue } {
  let bytes = 0;
  const path: Array<string | number> = [];
  const fail = (message: string): never => {
    throw new LimitExceeded({ path: pathText(path), message });
  };
  const count = (n: number) => {
    bytes += n;
    if (bytes > limits.documentBytes) {
      fail(
        `the document is larger than ${limits.documentBytes} bytes as JSON (counting every YAML alias *name expanded in full), ` +
          "more than the Kubernetes API server stores in one object; make it smaller (a spec this size is almost always an alias expansion: write the values out)",
      );
    }
  };
  const copy = (node: unknown, depth: number): unknown => {
    if (node === null || typeof node === "boolean") return (count(5), node);
    if (typeof node === "string") return (count(node.length + 2), node);
    if (typeof node === "number") {
      if (!Number.isFinite(node)) fail(`${node} is not a JSON number; use a finite number or a quoted string`);
      return (count(24), node);
    }
    if (depth >= limits.depth) fail(`nests deeper than ${limits.depth} levels of maps and lists; flatten it`);
    if (Array.isArray(node)) {
      count(2);
      const out: unknown[] = [];
      for (let i = 0; i < node.length; i++) {
        path.push(i);
        count(1);
        out.push(copy(node[i], depth + 1));
        path.pop();
      }
      return out;
    }
    if (isJsonMap(node)) {
      count(2);
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(node)) {
        path.push(key);
        // A YAML merge key would copy another map's keys in: refused rather than half-supported.
        if (key === "<<") fail("YAML merge keys (<<: *name) are not supported in specs; write the keys out");
        count(key.length + 4);
        // defineProperty: a key named __proto__ stays a plain key instead of setting the prototype.
        Object.defineProperty(out, key, { value: copy(node[key], depth + 1), enumerable: true, writable: true, configurable: true });
        path.pop();
      }
      return out;
    }
    return fail(
      `has a value of type ${node === undefined ? "undefined" : Object.prototype.toString.call(node).slice(8, -1)}, which a spec cannot hold (only maps, lists, strings, numbers, booleans and null)`,
    );
  };
  try {
    return { tree: copy(doc, 0) };
  } catch (error) {
    if (error instanceof LimitExceeded) return { issue: error.issue };
    throw error;
  }
}
