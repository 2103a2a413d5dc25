// `xtrinode diff`: the difference between two rendered trees, per runtime, with the changes that
// restart pods called out. Pure (trees in, data out); formatting is in diff-format.ts.
import { createTwoFilesPatch } from "diff";
import yaml from "js-yaml";
import { compareStrings, runtimeOf, type Tree } from "./tree.ts";

export interface FileDiff {
  /** Path in the rendered tree. */
  file: string;
  status: "added" | "changed" | "removed";
  /** Unified diff (a/… b/… headers). */
  patch: string;
}

export interface RuntimeDiff {
  /** namespace/name */
  runtime: string;
  status: "added" | "changed" | "removed";
  files: FileDiff[];
  /** Objects (not values.yaml) that differ. */
  objectsChanged: number;
  /** Why pods restart (checksum, image, JVM, other pod template changes). */
  restarts: string[];
}

export interface RenderDiff {
  runtimes: RuntimeDiff[];
  /** Routes, guardrails, kustomization: files outside any runtime directory. */
  shared: FileDiff[];
  summary: { added: number; changed: number; removed: number; objectsChanged: number };
}

function fileDiff(file: string, before: string | undefined, after: string | undefined): FileDiff {
  const patch = createTwoFilesPatch(
    before === undefined ? "/dev/null" : `a/${file}`,
    after === undefined ? "/dev/null" : `b/${file}`,
    before ?? "",
    after ?? "",
    undefined,
    undefined,
    { context: 3 },
  );
  // Drop the "Index:"/"===" preamble: plain unified diff, as git and kubectl print it.
  const body = patch
    .split("\n")
    .filter((line, i) => !(i < 2 && (line.startsWith("Index:") || line.startsWith("===="))))
    .join("\n");
  return { file, status: before === undefined ? "added" : after === undefined ? "removed" : "changed", patch: body };
}

export function diffTrees(base: Tree, head: Tree, prefix = ""): RenderDiff {
  const files = [...new Set([...base.keys(), ...head.keys()])].filter((f) => base.get(f) !== head.get(f)).sort(compareStrings);
  const byRuntime = new Map<string, FileDiff[]>();
  const shared: FileDiff[] = [];
  for (const file of files) {
    const diff = fileDiff(file, base.get(file), head.get(file));
    const runtime = runtimeOf(file, prefix);
    if (!runtime) shared.push(diff);
    else byRuntime.set(runtime, [...(byRuntime.get(runtime) ?? []), diff]);
  }
  const present = (tree: Tree, runtime: string) => [...tree.keys()].some((f) => runtimeOf(f, prefix) === runtime);
  const runtimes: RuntimeDiff[] = [...byRuntime.keys()].sort(compareStrings).map((runtime) => {
    const diffs = byRuntime.get(runtime)!;
    const status = !present(base, runtime) ? "added" : !present(head, runtime) ? "removed" : "changed";
    const restarts = status === "changed" ? diffs.flatMap((d) => restartReasons(d.file, base.get(d.file), head.get(d.file))) : [];
    return { runtime, status, files: diffs, objectsChanged: diffs.filter((d) => !d.file.endsWith("/values.yaml")).length, restarts };
  });
  const count = (s: RuntimeDiff["status"]) => runtimes.filter((r) => r.status === s).length;
  return {
    runtimes,
    shared,
    summary: {
      added: count("added"),
      changed: count("changed"),
      removed: count("removed"),
      objectsChanged:
        runtimes.reduce((n, r) => n + r.objectsChanged, 0) + shared.filter((d) => !d.file.endsWith("kustomization.yaml")).length,
    },
  };
}

export function hasDifferences(diff: RenderDiff): boolean {
  return diff.runtimes.length > 0 || diff.shared.length > 0;
}

type Obj = { kind?: string; metadata?: { name?: string }; spec?: { template?: PodTemplate }; data?: Record<string, string> };
type PodTemplate = {
  metadata?: { annotations?: Record<string, string> };
  spec?: { containers?: Array<{ name: string; image?: string }>; initContainers?: Array<{ name: string; image?: string }> };
};

/** Why a change to this object restarts pods (empty when it does not). */
export function restartReasons(file: string, before: string | undefined, after: string | undefined): string[] {
  if (before === undefined || after === undefined || file.endsWith("/values.yaml")) return [];
  const a = yaml.load(before) as Obj;
  const b = yaml.load(after) as Obj;
  const what = `${b.kind} ${b.metadata?.name}`;
  const reasons: string[] = [];
  if (b.kind === "ConfigMap" && (a.data?.["jvm.config"] ?? "") !== (b.data?.["jvm.config"] ?? ""))
    reasons.push(`${what}: JVM settings (jvm.config) changed`);
  const ta = a.spec?.template;
  const tb = b.spec?.template;
  if (!ta || !tb) return reasons;
  const annotationsA = ta.metadata?.annotations ?? {};
  const annotationsB = tb.metadata?.annotations ?? {};
  const checksums = [...new Set([...Object.keys(annotationsA), ...Object.keys(annotationsB)])]
    .filter((k) => k.startsWith("checksum/"))
    .sort(compareStrings);
  for (const key of checksums) if (annotationsA[key] !== annotationsB[key]) reasons.push(`${what}: ${key} changed (pods roll)`);
  const images = (t: PodTemplate) =>
    new Map([...(t.spec?.initContainers ?? []), ...(t.spec?.containers ?? [])].map((c) => [c.name, c.image ?? ""]));
  const imagesA = images(ta);
  for (const [name, image] of images(tb)) {
    const old = imagesA.get(name);
    if (old !== undefined && old !== image) reasons.push(`${what}: image of ${name} ${old} → ${image}`);
  }
  if (!reasons.some((r) => r.startsWith(`${what}:`)) && JSON.stringify(ta) !== JSON.stringify(tb))
    reasons.push(`${what}: pod template changed (pods roll)`);
  return reasons;
}
