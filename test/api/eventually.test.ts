// The suite's one polling helper (test/support/eventually.ts): returns the first truthy value, treats a
// throwing probe as "not yet", and fails naming what it waited for and what it saw last.
import { expect } from "chai";
import { eventually } from "../support/eventually.ts";

describe("test toolbox: eventually()", () => {
  it("returns the probe's first truthy value", async () => {
    let calls = 0;
    expect(await eventually("the third call", () => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 })).to.deep.equal({ calls: 3 });
  });

  it("keeps polling through errors and names the last one at the deadline", async () => {
    let calls = 0;
    const error = await eventually(
      "a server that never answers",
      () => {
        calls++;
        throw new Error("connect ECONNREFUSED");
      },
      { timeoutMs: 30, intervalMs: 1 },
    ).then(
      () => undefined,
      (caught: Error) => caught,
    );
    expect(calls).to.be.greaterThan(1);
    expect(error?.message).to.match(/waiting for a server that never answers \(last error: connect ECONNREFUSED\)$/);
  });

  it("describes the last state seen when asked to", async () => {
    const error = await eventually("phase Ready", () => false, {
      timeoutMs: 10,
      intervalMs: 1,
      describe: () => ({ phase: "Pending" }),
    }).then(
      () => undefined,
      (caught: Error) => caught,
    );
    expect(error?.message).to.contain('waiting for phase Ready (last seen: {"phase":"Pending"})');
  });

  it("stops at once when abortIf says why", async () => {
    let calls = 0;
    const error = await eventually("the component up", () => (calls++, false), {
      timeoutMs: 60_000,
      abortIf: () => (calls >= 2 ? "it exited (1)" : undefined),
    }).then(
      () => undefined,
      (caught: Error) => caught,
    );
    expect(error?.message).to.equal("gave up waiting for the component up: it exited (1)");
    expect(calls).to.equal(2);
  });
});
