// Unit tests of the stateless transaction tags (gateway/transactions.ts).
import { expect } from "chai";
import {
  backendOfTransaction,
  backendTag,
  parseTransactionToken,
  tagStartedTransactionRaw,
  untagTransactionHeader,
} from "../../gateway/transactions.ts";

describe("gateway transaction tags", () => {
  const p1 = "http://trino-p1.shared.svc:8080";
  const p2 = "http://trino-p2.shared.svc:8080";
  const trinoId = "0c5e2d2a-5c77-4a3e-9f0e-3f1c2b7d9a10";

  it("tags a started transaction id with the backend and finds the backend again from the token", () => {
    const raw = ["X-Trino-Started-Transaction-Id", trinoId, "Content-Type", "application/json"];
    tagStartedTransactionRaw(raw, p2);
    expect(raw).to.deep.equal(["X-Trino-Started-Transaction-Id", `${trinoId}.${backendTag(p2)}`, "Content-Type", "application/json"]);
    expect(backendOfTransaction(raw[1], [p1, p2])).to.equal(p2);
    expect(parseTransactionToken(raw[1])).to.deep.equal({ id: trinoId, tag: backendTag(p2) });
  });

  it("routes nothing by an untagged id or a tag of a backend that is not configured", () => {
    expect(backendOfTransaction(trinoId, [p1, p2])).to.equal(undefined);
    expect(backendOfTransaction(`${trinoId}.${backendTag("http://elsewhere:8080")}`, [p1, p2])).to.equal(undefined);
    expect(parseTransactionToken(trinoId)).to.deep.equal({ id: trinoId });
  });

  it("forwards Trino's own id: strips the tag, leaves an untagged id alone", () => {
    const tagged: Record<string, unknown> = { "x-trino-transaction-id": `${trinoId}.${backendTag(p1)}` };
    untagTransactionHeader(tagged);
    expect(tagged["x-trino-transaction-id"]).to.equal(trinoId);
    const plain: Record<string, unknown> = { "x-trino-transaction-id": "NONE" };
    untagTransactionHeader(plain);
    expect(plain["x-trino-transaction-id"]).to.equal("NONE");
  });
});
