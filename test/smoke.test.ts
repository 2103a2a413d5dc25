import { expect } from "chai";
describe("toolchain", () => {
  it("runs on Node 24 or newer", () => {
    expect(Number(process.versions.node.split(".")[0])).to.be.at.least(24);
  });
});
