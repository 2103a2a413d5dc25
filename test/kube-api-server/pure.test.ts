// The test server's pure modules, without HTTP: patches, selectors, field ownership.
import { expect } from "chai";
import type { JsonObject } from "../../fixtures/kube-api-server/json.ts";
import {
  readManagers,
  recordUpdate,
  serverSideApply,
  writeManagers,
  type WriteContext,
} from "../../fixtures/kube-api-server/managed-fields.ts";
import { jsonPatch, JsonPatchError, mergePatch } from "../../fixtures/kube-api-server/patch.ts";
import { parseFieldSelector, parseLabelSelector } from "../../fixtures/kube-api-server/selectors.ts";

const ctx = (manager: string): WriteContext => ({ manager, apiVersion: "v1", time: "2026-01-01T00:00:00Z", scope: "all" });

describe("kube-api-server pure core", () => {
  it("merge patch replaces lists and deletes nulls", () => {
    expect(mergePatch({ a: [1, 2], b: { c: 1, d: 2 } }, { a: [3], b: { c: null } })).to.deep.equal({ a: [3], b: { d: 2 } });
  });

  it("JSON patch supports add to list end, move, copy and escaped pointers", () => {
    const doc = { list: [1], "a/b": { "~x": 1 } };
    const out = jsonPatch(doc, [
      { op: "add", path: "/list/-", value: 2 },
      { op: "copy", from: "/list/0", path: "/first" },
      { op: "move", from: "/a~1b/~0x", path: "/moved" },
    ]);
    expect(out).to.deep.equal({ list: [1, 2], "a/b": {}, first: 1, moved: 1 });
    expect(doc.list).to.deep.equal([1]);
    expect(() => jsonPatch(doc, [{ op: "remove", path: "/missing" }])).to.throw(JsonPatchError);
    expect(() => jsonPatch(doc, { op: "add" })).to.throw(JsonPatchError);
  });

  it("parses label and field selectors and rejects malformed ones", () => {
    const obj = { metadata: { name: "n", namespace: "ns", labels: { a: "1", b: "2" } }, status: { phase: "Running" } };
    expect(parseLabelSelector("a=1,b in (2,3),!c")(obj)).to.equal(true);
    expect(parseLabelSelector("a==1,b notin (2)")(obj)).to.equal(false);
    expect(parseFieldSelector("metadata.namespace=ns,status.phase!=Failed")(obj)).to.equal(true);
    expect(() => parseLabelSelector("a in 1")).to.throw(/unable to parse/);
    expect(() => parseFieldSelector("no-operator")).to.throw(/invalid field selector/);
  });

  it("round-trips managedFields, marking owned non-empty maps with '.'", () => {
    const obj: JsonObject = { metadata: { name: "x" } };
    writeManagers(obj, [
      { manager: "m", operation: "Apply", apiVersion: "v1", time: "t", paths: [["data", "a"], ["spec"], ["spec", "x"]] },
    ]);
    expect(readManagers(obj)[0].paths).to.deep.equal([["data", "a"], ["spec"], ["spec", "x"]]);
  });

  it("moves ownership of changed fields to the updating manager", () => {
    const first: JsonObject = { metadata: { name: "x" }, data: { a: "1", b: "1" } };
    recordUpdate(undefined, first, ctx("creator"));
    const second: JsonObject = { ...first, data: { a: "2", b: "1" } };
    recordUpdate(first, second, ctx("editor"));
    const owners = Object.fromEntries(readManagers(second).map((m) => [m.manager, m.paths.map((p) => p.join("."))]));
    expect(owners).to.deep.equal({ creator: ["data.b"], editor: ["data.a"] });
  });

  it("applies: shared ownership on equal values, conflicts on different ones, removal of dropped fields", () => {
    const live = serverSideApply(undefined, { metadata: { name: "x" }, data: { a: "1", b: "1" } }, ctx("one"), false);
    if (!("object" in live)) throw new Error("unexpected conflict");
    const shared = serverSideApply(live.object, { metadata: { name: "x" }, data: { a: "1" } }, ctx("two"), false);
    if (!("object" in shared)) throw new Error("unexpected conflict");
    const clash = serverSideApply(shared.object, { metadata: { name: "x" }, data: { a: "9" } }, ctx("two"), false);
    expect("conflicts" in clash && clash.conflicts).to.deep.equal([{ manager: "one", path: ["data", "a"] }]);
    const dropped = serverSideApply(shared.object, { metadata: { name: "x" }, data: { a: "1" } }, ctx("one"), false);
    if (!("object" in dropped)) throw new Error("unexpected conflict");
    expect(dropped.object.data).to.deep.equal({ a: "1" });
  });

  it("an update that adds to keyed lists owns the new items only (the real server's managedFields for a PUT, v1.37)", () => {
    const deployment = (containers: JsonObject[]): JsonObject => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d" },
      spec: { template: { spec: { containers } } },
    });
    const first = deployment([{ name: "trino", image: "t", env: [{ name: "A", value: "1" }] }]);
    recordUpdate(undefined, first, ctx("creator"));
    const second = deployment([
      {
        name: "trino",
        image: "t",
        env: [
          { name: "A", value: "1" },
          { name: "EXTRA", value: "x" },
        ],
      },
      { name: "side", image: "s" },
    ]);
    recordUpdate(first, second, ctx("editor"));
    const editor = (second.metadata as { managedFields: JsonObject[] }).managedFields.find((m) => m.manager === "editor")!;
    expect(editor.fieldsV1).to.deep.equal({
      "f:spec": {
        "f:template": {
          "f:spec": {
            "f:containers": {
              'k:{"name":"side"}': { ".": {}, "f:image": {}, "f:name": {} },
              'k:{"name":"trino"}': { "f:env": { 'k:{"name":"EXTRA"}': { ".": {}, "f:name": {}, "f:value": {} } } },
            },
          },
        },
      },
    });
    expect(
      readManagers(second)
        .find((m) => m.manager === "creator")!
        .paths.map((p) => p.join(".")),
    ).to.include.members([
      'spec.template.spec.containers.k:{"name":"trino"}.env.k:{"name":"A"}.value',
      'spec.template.spec.containers.k:{"name":"trino"}.image',
    ]);
  });
});
