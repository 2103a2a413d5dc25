// Fuzz: 1,000 generated malformed XTrinode/XTrinodeCatalog spec files through loadSpecs +
// validateSpecSet (and a sample through `xtrinode validate` as a process), and 1,000 malformed
// routes documents through the gateway's routes parsing (RoutesReader): nothing crashes, nothing
// malformed is accepted, and every rejection names the file/line or the field.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadSpecs, SpecLoadError, validateSpecSet } from "../../renderer/index.ts";
import { formatIssues } from "../../renderer/types.ts";
import { RoutesReader, parseRoutes } from "../../gateway/routes-reader.ts";
import { silentLogger } from "../../lib/logger.ts";
import { createRng, testSeed } from "../support/rng.ts";
import { runXtrinode } from "../support/process.ts";
import { malformedRoutes, malformedSpec, validRoutesText } from "./spec-mutations.ts";

const CASES = 1000;

interface Rejection {
  file: string;
  /** Every message of the rejection, as a user sees it. */
  text: string;
  loadError: boolean;
}

/** Loads and validates one file; returns the rejection, or undefined when (wrongly) accepted. Any other throw fails the test. */
async function check(file: string): Promise<Rejection | undefined> {
  try {
    const set = await loadSpecs([file]);
    const issues = validateSpecSet(set);
    if (issues.length === 0) return undefined;
    for (const issue of issues) {
      expect(issue.file, "issue names its file").to.equal(file);
      expect(issue.message, "issue message").to.be.a("string").and.not.equal("");
      expect(issue.path, "issue path").to.be.a("string");
    }
    return { file, text: formatIssues(issues), loadError: false };
  } catch (error) {
    if (!(error instanceof SpecLoadError)) throw new Error(`${file}: threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
    expect(error.message.startsWith(`${file}`), "load error starts with the file").to.equal(true);
    return { file, text: error.message, loadError: true };
  }
}

describe("fuzz: malformed specs", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(path.join(tmpdir(), "xtrinode-fuzz-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`rejects ${CASES} generated malformed XTrinode/XTrinodeCatalog files with a message naming the file and field`, async () => {
    const rng = createRng(testSeed("fuzz specs"));
    const byDefect = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const generated = malformedSpec(rng);
      const file = path.join(dir, `case-${i}.${generated.text.trimStart().startsWith("{") ? "json" : "yaml"}`);
      writeFileSync(file, generated.text);
      const rejection = await check(file);
      expect(rejection, `case ${i} (${generated.defect}) was accepted:\n${generated.text.slice(0, 500)}`).to.not.equal(undefined);
      if (generated.mentions) expect(rejection!.text, `case ${i} (${generated.defect}) message`).to.include(generated.mentions);
      else expect(rejection!.text, `case ${i} (${generated.defect}) names file:line`).to.match(/case-\d+\.(yaml|json):\d+: /);
      byDefect.set(generated.defect, (byDefect.get(generated.defect) ?? 0) + 1);
    }
    // The generator reached every defect class; nothing leaked into Object.prototype.
    expect(byDefect.size).to.equal(12);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect((Object.prototype as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it("`xtrinode validate` (process) exits 1 naming each malformed file, and never crashes", async () => {
    const rng = createRng(testSeed("fuzz specs cli"));
    const schemaDir = path.join(dir, "cli-schema");
    mkdirSync(schemaDir);
    const files: string[] = [];
    const loadFailures: string[] = [];
    for (let i = 0; files.length < 25; i++) {
      const generated = malformedSpec(rng);
      const file = path.join(schemaDir, `c${String(i).padStart(3, "0")}.yaml`);
      writeFileSync(file, generated.text);
      const rejection = await check(file);
      if (rejection!.loadError) {
        rmSync(file);
        if (loadFailures.length < 2) loadFailures.push(file);
      } else files.push(file);
    }
    // Schema-level problems are all reported in one run; a load error stops the run at its file.
    const runs = await Promise.all([runXtrinode(["validate", schemaDir]), ...loadFailures.map((f) => runXtrinode(["validate", f]))]);
    for (const run of runs) {
      expect(run.code, run.stderr).to.equal(1);
      expect(run.stderr).to.not.match(/at .*\.ts:\d+|TypeError|RangeError|ReferenceError/);
    }
    const errorLines = runs[0].stderr.split("\n").filter((l) => l.startsWith("error: "));
    for (const file of files)
      expect(
        errorLines.some((l) => l.includes(file)),
        `${file} reported`,
      ).to.equal(true);
    loadFailures.forEach((file, i) =>
      expect(runs[i + 1].stderr).to.match(new RegExp(`^error: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(:\\d+)?: `, "m")),
    );
  });
});

describe("fuzz: malformed routes documents", () => {
  it(`never accepts any of ${CASES} malformed routes documents and keeps the last-good routes`, () => {
    const rng = createRng(testSeed("fuzz routes"));
    const store = new RoutesReader(silentLogger());
    const good = validRoutesText(["alpha", "beta"], (name) => `http://127.0.0.1:${name === "alpha" ? 9001 : 9002}`);
    expect(store.apply(good, "fuzz")).to.equal(true);
    const defects = new Set<string>();
    for (let i = 0; i < CASES; i++) {
      const { defect, text } = malformedRoutes(rng);
      defects.add(defect);
      const parsed = parseRoutes(text);
      expect(parsed.ok, `case ${i} (${defect}) accepted:\n${text.slice(0, 300)}`).to.equal(false);
      expect(!parsed.ok && parsed.reason)
        .to.be.a("string")
        .and.not.equal("");
      expect(store.apply(text, "fuzz"), `case ${i} (${defect})`).to.equal(false);
    }
    expect(defects.size).to.equal(14);
    expect(store.invalidUpdates).to.equal(CASES);
    expect(store.generation).to.equal(1);
    expect([...store.table.byKey.keys()]).to.deep.equal(["team-a/alpha", "team-a/beta"]);
    expect(store.table.byKey.get("team-a/alpha")!.backend).to.equal("http://127.0.0.1:9001");
    expect((Object.prototype as Record<string, unknown>).polluted).to.equal(undefined);
  });
});
