// Reads spec files (multi-document YAML, files or directories) into a SpecSet: the renderer's only
// file I/O. Each document remembers its file, index and line for error messages.
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import yaml from "js-yaml";
import { compare } from "./catalogs.ts";
import { copyWithinLimits, SPEC_LIMITS } from "./limits.ts";
import { isPlainMap } from "../schemas/api/index.ts";
import type { SpecSet, SpecSource, XTrinode, XTrinodeCatalog, XTrinodePolicy } from "./types.ts";

const SPEC_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

/** Thrown for unreadable input: names the file (and line for YAML syntax errors). */
export class SpecLoadError extends Error {
  readonly file: string;
  readonly line?: number;
  constructor(file: string, message: string, line?: number) {
    super(`${file}${line !== undefined ? `:${line}` : ""}: ${message}`);
    this.name = "SpecLoadError";
    this.file = file;
    this.line = line;
  }
}

/**
 * Files under the given paths: files as given, directories walked recursively (sorted, .yaml/.yml/.json).
 * A directory without any such file is an error.
 */
export async function specFiles(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    let info;
    try {
      info = await stat(p);
    } catch {
      throw new SpecLoadError(p, "no such file or directory");
    }
    if (info.isDirectory()) {
      const found = (await walk(p)).sort(compare);
      // An empty directory (a wrong path, a failed checkout) must not read as "no runtimes wanted".
      if (!found.length) throw new SpecLoadError(p, `no spec files (${[...SPEC_EXTENSIONS].join(", ")}) under ${p}`);
      files.push(...found);
    } else files.push(p);
  }
  return files;
}

/** Spec files below a directory; hidden directories and node_modules are not specs. */
async function walk(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith(".") && entry.name !== "node_modules") files.push(...(await walk(full)));
    } else if (entry.isFile() && SPEC_EXTENSIONS.has(path.extname(entry.name))) files.push(full);
  }
  return files;
}

/**
 * Parses one file's text into documents with their start lines: the one YAML parser of every spec input
 * (CLI, GitOps sync, PR diff, local stack, the operator's policy ConfigMap). YAML 1.2 core schema (no
 * timestamps, binary or merge keys), and each document copied as a plain tree within SPEC_LIMITS, so
 * an alias bomb or an oversized document is refused here, with its file, document and field, before
 * anything walks it.
 */
export function parseDocuments(file: string, text: string): Array<{ doc: unknown; line: number }> {
  if (text.length > SPEC_LIMITS.fileBytes) throw tooLarge(file);
  const starts = documentStartLines(text);
  if (starts.length > SPEC_LIMITS.documentsPerFile) {
    throw new SpecLoadError(
      file,
      `holds ${starts.length} YAML documents, more than ${SPEC_LIMITS.documentsPerFile}; split the specs into several files`,
    );
  }
  const parsed: unknown[] = [];
  try {
    yaml.loadAll(
      text,
      (doc) => {
        parsed.push(doc);
      },
      { filename: file, schema: yaml.CORE_SCHEMA },
    );
  } catch (error) {
    const mark = (error as { mark?: { line: number } }).mark;
    const reason = (error as { reason?: string }).reason ?? (error as Error).message;
    throw new SpecLoadError(file, `invalid YAML: ${reason}`, mark ? mark.line + 1 : undefined);
  }
  const docs: Array<{ doc: unknown; line: number }> = [];
  parsed.forEach((doc, index) => {
    if (doc === null || doc === undefined) return;
    const line = starts[index] ?? 1;
    const result = copyWithinLimits(doc);
    if ("issue" in result) {
      const { path: field, message } = result.issue;
      throw new SpecLoadError(file, `document ${docs.length}${describe(doc)}: ${field ? `${field}: ` : ""}${message}`, line);
    }
    docs.push({ doc: result.tree, line });
  });
  return docs;
}

function tooLarge(file: string): SpecLoadError {
  return new SpecLoadError(file, `is larger than ${SPEC_LIMITS.fileBytes} bytes; split the specs into several files`);
}

/** " (XTrinode team-a/analytics)" when the document says what it is; read without walking it. */
function describe(doc: unknown): string {
  if (!isPlainMap(doc)) return "";
  const kind = typeof doc.kind === "string" ? doc.kind.slice(0, 63) : undefined;
  const metadata = isPlainMap(doc.metadata) ? doc.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name.slice(0, 253) : undefined;
  const namespace = typeof metadata.namespace === "string" ? `${metadata.namespace.slice(0, 63)}/` : "";
  return kind || name ? ` (${[kind, name && namespace + name].filter(Boolean).join(" ")})` : "";
}

/** 1-based first line of each document (after a leading `---`, if any). One pass, no copies: linear in the text. */
function documentStartLines(text: string): number[] {
  const starts = [1];
  let contentSeen = false;
  for (let at = 0, line = 1; at <= text.length; line++) {
    const end = text.indexOf("\n", at);
    const stop = end < 0 ? text.length : end;
    if (text.startsWith("---", at) && (at + 3 === stop || /\s/.test(text[at + 3]))) {
      if (contentSeen) starts.push(line + 1);
      else starts[0] = line + 1;
      contentSeen = true;
    } else if (!contentSeen) {
      const trimmed = text.slice(at, stop).trim();
      if (trimmed && !trimmed.startsWith("#")) contentSeen = true;
    }
    if (end < 0) break;
    at = end + 1;
  }
  return starts;
}

export async function loadSpecs(paths: string[]): Promise<SpecSet> {
  const files = await specFiles(paths);
  const set: SpecSet = { runtimes: [], catalogs: [], sources: new Map(), files };
  let policySource: SpecSource | undefined;
  for (const file of files) {
    let text: string;
    try {
      // Checked before reading: the file is not read into memory at all when it is too large.
      if ((await stat(file)).size > SPEC_LIMITS.fileBytes) throw tooLarge(file);
      text = await readFile(file, "utf8");
    } catch (error) {
      if (error instanceof SpecLoadError) throw error;
      throw new SpecLoadError(file, (error as Error).message);
    }
    parseDocuments(file, text).forEach(({ doc, line }, document) => {
      const source: SpecSource = { file, document, line };
      if (!isPlainMap(doc)) throw new SpecLoadError(file, `document ${document} is not a mapping`, line);
      switch (doc.kind) {
        case "XTrinode":
          set.runtimes.push(doc as unknown as XTrinode);
          break;
        case "XTrinodeCatalog":
          set.catalogs.push(doc as unknown as XTrinodeCatalog);
          break;
        case "XTrinodePolicy":
          if (policySource)
            throw new SpecLoadError(
              file,
              `a second XTrinodePolicy (the first is in ${policySource.file}#${policySource.document}); there is one policy`,
              line,
            );
          set.policy = doc as unknown as XTrinodePolicy;
          policySource = source;
          break;
        default:
          throw new SpecLoadError(
            file,
            `document ${document} has kind ${JSON.stringify(doc.kind)}; expected XTrinode, XTrinodeCatalog or XTrinodePolicy`,
            line,
          );
      }
      set.sources.set(doc, source);
    });
  }
  return set;
}

/** Reads a policy file on its own (CLI --policy). */
export async function loadPolicy(file: string): Promise<XTrinodePolicy> {
  const set = await loadSpecs([file]);
  if (!set.policy || set.runtimes.length || set.catalogs.length)
    throw new SpecLoadError(file, "must contain exactly one XTrinodePolicy document");
  return set.policy;
}
