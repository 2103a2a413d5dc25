import { expect } from "chai";
import { ResumeCoordinator, type LifecycleApi } from "../../gateway/lifecycle-api-client.ts";
import { silentLogger } from "../../lib/logger.ts";

function countingApi(): LifecycleApi & { calls: number } {
  const api = {
    calls: 0,
    async resume() {
      api.calls++;
      return { state: "RESUMING", retryAfterSeconds: 1 };
    },
    async activity() {},
  };
  return api as unknown as LifecycleApi & { calls: number };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("gateway resume coordinator", () => {
  it("calls once per runtime however many statements wait, and not again while the route is RESUMING", async () => {
    const api = countingApi();
    const resume = new ResumeCoordinator(api, silentLogger());
    for (let i = 0; i < 50; i++) resume.ensureResuming("team-a", "bi", "PAUSED", 0);
    await settle();
    expect(api.calls).to.equal(1);
    const afterRetryAfter = Date.now() + 5_000;
    resume.ensureResuming("team-a", "bi", "RESUMING", afterRetryAfter);
    await settle();
    expect(api.calls, "the operator is resuming: no second call").to.equal(1);
  });

  it("asks again after Retry-After when the route is still PAUSED, and afresh after the runtime ran", async () => {
    const api = countingApi();
    const resume = new ResumeCoordinator(api, silentLogger());
    resume.ensureResuming("team-a", "bi", "PAUSED", 0);
    await settle();
    resume.ensureResuming("team-a", "bi", "PAUSED", Date.now() + 5_000);
    await settle();
    expect(api.calls).to.equal(2);
    resume.settled("team-a", "bi");
    resume.ensureResuming("team-a", "bi", "PAUSED", 0);
    await settle();
    expect(api.calls).to.equal(3);
  });
});
