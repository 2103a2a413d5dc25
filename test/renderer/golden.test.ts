// Golden-file tests: every fixture in fixtures/specs renders to fixtures/golden/<name>.yaml, and every
// fixture in fixtures/invalid fails with fixtures/invalid/<name>.expected.txt.
// Regenerate after an intended change: `npm run golden:update` (then review the diff in git).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { createTwoFilesPatch } from "diff";
import { fixtureNames, goldenDir, goldenText, invalidDir, invalidFixtureText, renderFixture, specsDir } from "./support.ts";

const update = process.env.UPDATE_GOLDEN === "1";

function checkGolden(file: string, actual: string): void {
  if (update) {
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) throw new Error(`missing golden file ${file}; run \`npm run golden:update\``);
  const expected = readFileSync(file, "utf8");
  if (expected !== actual) {
    const patch = createTwoFilesPatch(`${path.basename(file)} (golden)`, `${path.basename(file)} (rendered)`, expected, actual, "", "", {
      context: 3,
    });
    throw new Error(
      `rendered output differs from ${path.relative(process.cwd(), file)} (run \`npm run golden:update\` if intended):\n${patch}`,
    );
  }
}

describe("renderer golden files", () => {
  const names = fixtureNames(specsDir);
  it("has the fixtures of every feature", () => {
    expect(names).to.include.members([
      "minimal",
      "fixed-workers",
      "keda-prometheus",
      "hpa-overlay",
      "shared-catalogs",
      "node-pool",
      "suspended",
      "guardrails",
      "extra-config",
    ]);
  });
  for (const name of names) {
    it(`renders fixtures/specs/${name}.yaml as golden`, async () => {
      checkGolden(path.join(goldenDir, `${name}.yaml`), goldenText(await renderFixture(name)));
    });
  }
  for (const name of fixtureNames(invalidDir)) {
    it(`rejects fixtures/invalid/${name}.yaml with the expected errors`, async () => {
      checkGolden(path.join(invalidDir, `${name}.expected.txt`), await invalidFixtureText(name));
    });
  }
});
