// Text and Markdown (pull-request comment) views of a RenderDiff. Pure.
import type { FileDiff, RenderDiff, RuntimeDiff } from "./diff.ts";

export interface DiffLabels {
  base: string;
  head: string;
}

function summaryLine(diff: RenderDiff): string {
  const { added, changed, removed, objectsChanged } = diff.summary;
  return `runtimes: ${added} added, ${changed} changed, ${removed} removed; objects changed: ${objectsChanged}`;
}

export function formatText(diff: RenderDiff, labels: DiffLabels): string {
  const lines = [`# xtrinode diff ${labels.base}..${labels.head}`, `# ${summaryLine(diff)}`];
  for (const runtime of diff.runtimes) {
    lines.push(`# ${runtime.status} ${runtime.runtime} (${runtime.objectsChanged} objects)`);
    for (const reason of runtime.restarts) lines.push(`#   restarts: ${reason}`);
  }
  const patches = [...diff.runtimes.flatMap((r) => r.files), ...diff.shared].map((f) => f.patch.trimEnd());
  return [...lines, ...patches].join("\n") + "\n";
}

/** Longest run of backticks in the text + 1 (at least 3), so a patch cannot close its own fence. */
function fence(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return "`".repeat(Math.max(3, longest + 1));
}

function codeBlock(patches: FileDiff[]): string {
  const body = patches.map((p) => p.patch.trimEnd()).join("\n");
  const f = fence(body);
  return `${f}diff\n${body}\n${f}`;
}

function escapeMd(text: string): string {
  return text.replace(/[|<>*_`[\]\\]/g, (c) => `\\${c}`);
}

const STATUS_ICON: Record<RuntimeDiff["status"], string> = { added: "🆕 added", changed: "✏️ changed", removed: "🗑️ removed" };

/** GitHub refuses comments over 65,536 characters: patches beyond this budget become file lists. */
export const MARKDOWN_BUDGET = 60_000;

export function formatMarkdown(diff: RenderDiff, labels: DiffLabels, budget = MARKDOWN_BUDGET): string {
  const out: string[] = [`### XTrinode render diff: \`${labels.base}\` → \`${labels.head}\``, ""];
  if (!diff.runtimes.length && !diff.shared.length) return [...out, "No changes to the rendered objects.", ""].join("\n");
  const { added, changed, removed, objectsChanged } = diff.summary;
  out.push(`**${added}** added · **${changed}** changed · **${removed}** removed runtimes · **${objectsChanged}** objects changed`, "");
  const restarting = diff.runtimes.filter((r) => r.restarts.length);
  if (restarting.length) {
    out.push("> [!WARNING]", "> These changes restart pods:");
    for (const runtime of restarting) for (const reason of runtime.restarts) out.push(`> - \`${runtime.runtime}\`: ${escapeMd(reason)}`);
    out.push("");
  }
  out.push("| runtime | change | objects | restarts pods |", "| --- | --- | ---: | --- |");
  for (const r of diff.runtimes)
    out.push(`| \`${r.runtime}\` | ${STATUS_ICON[r.status]} | ${r.objectsChanged} | ${r.restarts.length ? "⚠️ yes" : "no"} |`);
  out.push("");
  let used = out.join("\n").length;
  const section = (summary: string, files: FileDiff[]) => {
    let body = codeBlock(files);
    if (used + body.length > budget)
      body = `Diff omitted (comment size limit); run \`xtrinode diff\` locally. Files:\n\n${files.map((f) => `- \`${f.file}\` (${f.status})`).join("\n")}`;
    const text = [`<details><summary>${summary}</summary>`, "", body, "", "</details>", ""].join("\n");
    used += text.length;
    out.push(text);
  };
  for (const r of diff.runtimes)
    section(`<code>${r.runtime}</code>: ${r.status}, ${r.objectsChanged} objects${r.restarts.length ? ", ⚠️ restarts pods" : ""}`, r.files);
  if (diff.shared.length) section(`Shared objects (routes, namespace guardrails, kustomization): ${diff.shared.length} files`, diff.shared);
  return out.join("\n");
}
