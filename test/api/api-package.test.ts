// The shared API package (schemas/api/): the routes codec in both modes, JSON merge patch, DNS-1123
// names and the constants every component names from there.
import { expect } from "chai";
import yaml from "js-yaml";
import {
  apiVersion,
  decodeRoutes,
  emptyRoutes,
  encodeRoutes,
  group,
  isDns1123Label,
  isDns1123Subdomain,
  isQualifiedName,
  kinds,
  mergePatch,
  version,
} from "../../schemas/api/index.ts";
import type { GatewayRoutes } from "../../schemas/generated/types.ts";
import { validateAgainstSchema } from "../../schemas/validate.ts";

const entry = (namespace: string, name: string) => ({
  name,
  namespace,
  backend: `http://${name}-trino.${namespace}.svc.cluster.local:8080`,
  state: "RUNNING",
});
const documentText = (routes: unknown[]) => yaml.dump({ apiVersion, kind: kinds.routes, routes });

describe("API package: routes codec", () => {
  it("encodes a document that decodes to itself in both modes and matches the schema", () => {
    const doc = { ...emptyRoutes(), routes: [entry("b", "x"), entry("a", "y")] } as GatewayRoutes;
    const text = encodeRoutes(doc);
    expect(validateAgainstSchema("GatewayRoutes", yaml.load(text))).to.deep.equal([]);
    // Entries keep the order given: sorting is the writer's choice, not the codec's.
    for (const mode of ["strict", "lenient"] as const) expect(decodeRoutes(text, { mode })).to.deep.equal({ document: doc, problems: [] });
  });

  it("strict: one bad entry rejects the whole document and names the field", () => {
    const text = documentText([entry("a", "ok"), { ...entry("a", "bad"), backend: "ftp://x" }]);
    const decoded = decodeRoutes(text, { mode: "strict" });
    expect(decoded.document).to.equal(null);
    expect(decoded.problems.join("; ")).to.contain("routes[1].backend");
  });

  it("strict: a document of the wrong kind is rejected", () => {
    const decoded = decodeRoutes(yaml.dump({ apiVersion, kind: "Other", routes: [entry("a", "ok")] }), { mode: "strict" });
    expect(decoded.document).to.equal(null);
    expect(decoded.problems.join("; ")).to.contain("kind");
  });

  it("lenient: bad entries are dropped, each named by its own index, and the rest kept", () => {
    const text = documentText([{ ...entry("a", "Bad Name") }, entry("a", "ok"), { ...entry("a", "bad"), backend: "ftp://x" }]);
    const decoded = decodeRoutes(text, { mode: "lenient" });
    expect(decoded.document?.routes.map((route) => route.name)).to.deep.equal(["ok"]);
    expect(decoded.problems).to.have.length(2);
    expect(decoded.problems[0]).to.match(/^routes\[0\]\.name: /);
    expect(decoded.problems[1]).to.match(/^routes\[2\]\.backend: /);
  });

  it("both modes: text that is not a routes document gives null and says why", () => {
    for (const mode of ["strict", "lenient"] as const) {
      const bad = decodeRoutes("routes: [unclosed", { mode });
      expect(bad.document).to.equal(null);
      expect(bad.problems[0]).to.match(/^invalid YAML: /);
      expect(decodeRoutes("just text", { mode }).document).to.equal(null);
    }
  });

  it("names the API version from group and version", () => {
    expect(apiVersion).to.equal(`${group}/${version}`);
    expect(emptyRoutes()).to.deep.equal({ apiVersion: "xtrinode.io/v1alpha1", kind: "GatewayRoutes", routes: [] });
  });
});

describe("API package: JSON merge patch (RFC 7386)", () => {
  it("merges maps, replaces lists and scalars, deletes on null", () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, d: 3 }, { a: { c: 20, e: 5 } })).to.deep.equal({ a: { b: 1, c: 20, e: 5 }, d: 3 });
    expect(mergePatch({ list: [1, 2, 3] }, { list: [9] })).to.deep.equal({ list: [9] });
    expect(mergePatch({ a: { b: 1, c: 2 } }, { a: { b: null } })).to.deep.equal({ a: { c: 2 } });
    expect(mergePatch({ a: 1 }, { a: { x: 1, y: null } })).to.deep.equal({ a: { x: 1 } });
    expect(mergePatch({ a: 1 }, "s")).to.equal("s");
  });

  it("modifies neither input and shares no objects with them", () => {
    const target = { a: { b: [1] } };
    const patch = { a: { c: [2] } };
    const merged = mergePatch(target, patch) as { a: { b: number[]; c: number[] } };
    merged.a.b.push(9);
    merged.a.c.push(9);
    expect(target).to.deep.equal({ a: { b: [1] } });
    expect(patch).to.deep.equal({ a: { c: [2] } });
  });
});

describe("API package: Kubernetes names", () => {
  it("accepts DNS-1123 labels and subdomains and refuses the rest", () => {
    for (const good of ["a", "team-a", "a1", "x".repeat(63)]) expect(isDns1123Label(good), good).to.equal(true);
    for (const bad of ["", "-a", "a-", "A", "a_b", "a.b", "x".repeat(64)]) expect(isDns1123Label(bad), bad).to.equal(false);
    expect(isDns1123Subdomain("xtrinode-resume.team-a.bi")).to.equal(true);
    expect(isDns1123Subdomain("a..b")).to.equal(false);
  });

  it("accepts qualified names with and without a prefix", () => {
    expect(isQualifiedName("xtrinode.io/runtime")).to.equal(true);
    expect(isQualifiedName("app.kubernetes.io/name")).to.equal(true);
    expect(isQualifiedName("Name_1.x")).to.equal(true);
    expect(isQualifiedName("Bad/name")).to.equal(false);
    expect(isQualifiedName("example.com/-x")).to.equal(false);
  });
});
