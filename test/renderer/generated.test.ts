// The checked-in derived files (schemas/generated/types.ts, deploy/crds/*.yaml) match the schemas,
// and the CRDs are structural.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { toYaml } from "../../renderer/output.ts";
import { crdDeployFiles, generateCrds } from "../../schemas/crds.ts";
import { generateTypes } from "../../scripts/gen-types.ts";
import { repoRoot } from "./support.ts";

const crdsDir = path.join(repoRoot, "deploy", "crds");

/** Structural-schema violations (apiextensions.k8s.io/v1) below a node. */
function structuralProblems(node: Record<string, any>, at: string): string[] {
  const problems: string[] = [];
  for (const key of ["$ref", "$defs", "$id", "const"]) if (key in node) problems.push(`${at}: has ${key}`);
  if (node.properties && "additionalProperties" in node) problems.push(`${at}: additionalProperties next to properties`);
  if (!node.type && !node["x-kubernetes-int-or-string"] && !node["x-kubernetes-preserve-unknown-fields"]) problems.push(`${at}: no type`);
  if (node.properties && node.type !== "object") problems.push(`${at}: properties on a non-object`);
  for (const [k, v] of Object.entries(node.properties ?? {})) problems.push(...structuralProblems(v as Record<string, any>, `${at}.${k}`));
  if (node.items) problems.push(...structuralProblems(node.items, `${at}[]`));
  if (typeof node.additionalProperties === "object") problems.push(...structuralProblems(node.additionalProperties, `${at}{}`));
  return problems;
}

describe("generated files", () => {
  it("deploy/crds/ is up to date with the schemas (run `npm run gen`)", () => {
    const expected = crdDeployFiles(toYaml);
    const present = readdirSync(crdsDir)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    expect(present).to.deep.equal([...expected.keys()].sort());
    for (const [file, content] of expected) expect(readFileSync(path.join(crdsDir, file), "utf8"), file).to.equal(content);
  });

  it("schemas/generated/types.ts is up to date with the schemas (run `npm run gen`)", async () => {
    const onDisk = readFileSync(path.join(repoRoot, "schemas", "generated", "types.ts"), "utf8");
    expect(onDisk === (await generateTypes()), "types.ts differs from what `npm run gen` produces").to.equal(true);
  });

  it("CRDs are structural, valid CustomResourceDefinitions with names, status and printer columns", () => {
    const crds = generateCrds();
    expect(crds.map((c) => (c.metadata as { name: string }).name)).to.deep.equal(["xtrinodes.xtrinode.io", "xtrinodecatalogs.xtrinode.io"]);
    for (const crd of crds) {
      new CustomResourceDefinition(crd as never).validate();
      const spec = crd.spec as any;
      const version = spec.versions[0];
      expect(structuralProblems(version.schema.openAPIV3Schema, "")).to.deep.equal([]);
      expect(version.subresources).to.deep.equal({ status: {} });
      expect(spec.names.categories).to.include("xtrinode");
    }
    const xtn = crds[0].spec as any;
    expect(xtn.names.shortNames).to.deep.equal(["xtn"]);
    expect(xtn.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name)).to.deep.equal([
      "Phase",
      "Route",
      "Workers",
      "Last Activity",
      "Wake TTL",
      "Age",
      "Conditions",
      "Hostnames",
      "Pool",
    ]);
    expect((crds[1].spec as any).names.shortNames).to.deep.equal(["xtncat"]);
  });

  it("the structural check catches a non-structural schema", () => {
    expect(structuralProblems({ type: "object", properties: { a: { $ref: "#/x" } }, additionalProperties: false }, "")).to.have.length(3);
  });
});
