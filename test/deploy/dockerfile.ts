// Static reading of the Dockerfile and .dockerignore (no container engine runs here), and of what
// the image's entrypoint loads at run time, for test/deploy/dockerfile.test.ts.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

/** Joins continuation lines, drops comments and blank lines, splits into instructions and stages. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending = "";
  let startLine = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) return;
    if (!pending) startLine = index + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${pending}${line}`.trim();
    pending = "";
    const [keyword, ...rest] = full.split(/\s+/);
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(" "), line: startLine });
  });

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`Dockerfile:${instruction.line}: cannot read FROM ${instruction.args}`);
      const image = match[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => globalArgs[a ?? b] ?? "");
      stages.push({ image, name: match[2], instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== "ARG") throw new Error(`Dockerfile:${instruction.line}: only ARG may precede FROM`);
      const [name, value = ""] = instruction.args.split("=");
      globalArgs[name] = value;
    } else stages[stages.length - 1].instructions.push(instruction);
  }
  return { globalArgs, stages };
}

/** The exec-form JSON array of ENTRYPOINT/CMD, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  try {
    const value = JSON.parse(args) as unknown;
    return Array.isArray(value) && value.every((item) => typeof item === "string") ? value : undefined;
  } catch {
    return undefined;
  }
}

export interface CopyInstruction {
  from?: string;
  sources: string[];
  destination: string;
}

export function parseCopy(args: string): CopyInstruction {
  const parts = args.split(/\s+/);
  let from: string | undefined;
  while (parts[0]?.startsWith("--")) {
    const flag = parts.shift() as string;
    if (flag.startsWith("--from=")) from = flag.slice("--from=".length);
  }
  const destination = parts.pop() as string;
  return { from, sources: parts, destination };
}

/** A .dockerignore pattern as Docker reads it: Go filepath.Match globs plus `**`, `!` re-includes, last match wins. */
interface IgnoreRule {
  regex: RegExp;
  include: boolean;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const include = line.startsWith("!");
      const pattern = path.posix.normalize((include ? line.slice(1) : line).trim()).replace(/^\/+|\/+$/g, "");
      const source = pattern
        .split("/")
        .map((part) =>
          part === "**"
            ? "(?:.*)"
            : part
                .replace(/[.+^${}()|[\]\\]/g, "\\$&")
                .replace(/\*/g, "[^/]*")
                .replace(/\?/g, "[^/]"),
        )
        .join("/")
        .replace(/\(\?:\.\*\)\//g, "(?:.*/)?");
      return { regex: new RegExp(`^${source}$`), include };
    });
}

/** Whether a context-relative path reaches the build context (a pattern on a directory covers its contents). */
export function inBuildContext(rules: IgnoreRule[], file: string): boolean {
  const parts = file.split("/");
  const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join("/"));
  let included = true;
  for (const rule of rules) if (prefixes.some((prefix) => rule.regex.test(prefix))) included = rule.include;
  return included;
}

const importPattern =
  /(?:^|[\s;])(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|new URL\(\s*["'](\.[^"']+)["']\s*,\s*import\.meta\.url\s*\)/g;

/** Module specifiers a source file loads at run time (type-only imports are erased and skipped). */
export function runtimeImports(source: string): string[] {
  const specifiers: string[] = [];
  // Comments can hold `from "…"` prose that would otherwise read as an import.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  for (const match of code.matchAll(importPattern)) specifiers.push(match[1] ?? match[2] ?? match[3]);
  return specifiers;
}

export interface ModuleClosure {
  /** Repository-relative files loaded at run time. */
  files: string[];
  /** Bare package names imported. */
  packages: string[];
  unresolved: string[];
}

/** Follows relative imports from `entries` through the repository; collects files and packages. */
export function moduleClosure(root: string, entries: string[]): ModuleClosure {
  const files = new Set<string>();
  const packages = new Set<string>();
  const unresolved: string[] = [];
  const queue = [...entries];
  const builtins = new Set(builtinModules);
  while (queue.length) {
    const file = queue.shift() as string;
    if (files.has(file)) continue;
    files.add(file);
    if (!/\.(ts|js|mjs)$/.test(file)) continue;
    for (const specifier of runtimeImports(readFileSync(path.join(root, file), "utf8"))) {
      if (specifier.startsWith(".")) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
        const stat = existsSync(path.join(root, target)) ? statSync(path.join(root, target)) : undefined;
        if (stat?.isFile()) queue.push(target);
        // `new URL("./dir/", import.meta.url)`: a folder of assets read at run time (e.g. the console's files).
        else if (stat?.isDirectory() && specifier.endsWith("/"))
          queue.push(
            ...readdirSync(path.join(root, target), { recursive: true, withFileTypes: true })
              .filter((entry) => entry.isFile())
              .map((entry) => path.posix.join(path.relative(root, entry.parentPath).split(path.sep).join("/"), entry.name)),
          );
        else unresolved.push(`${file}: ${specifier}`);
      } else if (specifier.startsWith("node:") || builtins.has(specifier)) continue;
      else packages.add(specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]);
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort(), unresolved };
}
