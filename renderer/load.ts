// Reads spec files (multi-document YAML, files or directories) into a SpecSet: the renderer's only
// file I/O. Each document remembers its file, index and line for error messages.
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import yaml from "js-yaml";
import { compare } from "./catalogs.ts";
import { isPlainMap } from "./merge.ts";
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

/** Parses one file's text into documents with their start lines. */
export function parseDocuments(file: string, text: string): Array<{ doc: unknown; line: number }> {
  const docs: Array<{ doc: unknown; line: number }> = [];
  const starts = documentStartLines(text);
  try {
    let index = 0;
    yaml.loadAll(text, (doc) => {
      docs.push({ doc, line: starts[index] ?? 1 });
      index++;
    }, { filename: file });
  } catch (error) {
    const mark = (error as { mark?: { line: number } }).mark;
    const reason = (error as { reason?: string }).reason ?? (error as Error).message;
    throw new SpecLoadError(file, `invalid YAML: ${reason}`, mark ? mark.line + 1 : undefined);
  }
  return docs.filter((d) => d.doc !== null && d.doc !== undefined);
}

/** 1-based first line of each document (after a leading `---`, if any). */
function documentStartLines(text: string): number[] {
  const lines = text.split("\n");
  const starts = [1];
  lines.forEach((line, i) => {
    if (/^---(\s|$)/.test(line)) {
      if (i === 0 || lines.slice(0, i).every((l) => !l.trim() || l.trim().startsWith("#"))) starts[0] = i + 2;
      else starts.push(i + 2);
    }
  });
  return starts;
}

export async function loadSpecs(paths: string[]): Promise<SpecSet> {
  const files = await specFiles(paths);
  const set: SpecSet = { runtimes: [], catalogs: [], sources: new Map(), files };
  let policySource: SpecSource | undefined;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
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
          if (policySource) throw new SpecLoadError(file, `a second XTrinodePolicy (the first is in ${policySource.file}#${policySource.document}); there is one policy`, line);
          set.policy = doc as unknown as XTrinodePolicy;
          policySource = source;
          break;
        default:
          throw new SpecLoadError(file, `document ${document} has kind ${JSON.stringify(doc.kind)}; expected XTrinode, XTrinodeCatalog or XTrinodePolicy`, line);
      }
      set.sources.set(doc, source);
    });
  }
  return set;
}

/** Reads a policy file on its own (CLI --policy). */
export async function loadPolicy(file: string): Promise<XTrinodePolicy> {
  const set = await loadSpecs([file]);
  if (!set.policy || set.runtimes.length || set.catalogs.length) throw new SpecLoadError(file, "must contain exactly one XTrinodePolicy document");
  return set.policy;
}
