// The tests' one reader of the Prometheus text format (test/support/metrics-text.ts): what it accepts,
// what the two lookups match, and that a malformed page or an absent series is an error, not a 0.
import { expect } from "chai";
import { metricSum, metricValue, parseMetrics } from "../support/metrics-text.ts";

const page = [
  "# HELP requests_total Requests.",
  "# TYPE requests_total counter",
  'requests_total{runtime="a/b",status="200"} 12',
  'requests_total{runtime="a/b",status="503"} 3 1700000000000',
  'requests_total{runtime="a/c",status="200",} 5',
  'odd{path="x\\"}y\\\\z\\n"} 1e3',
  "lag_seconds Nan",
  'latency_bucket{le="+Inf"} +Inf',
  "held_max 1000",
  "",
].join("\n");

describe("test support: Prometheus text metrics", () => {
  it("parses names, labels (escapes, trailing comma), values (exponent, NaN, Inf in any case) and skips # lines", () => {
    const samples = parseMetrics(page);
    expect(samples.map((sample) => sample.name)).to.deep.equal([
      "requests_total",
      "requests_total",
      "requests_total",
      "odd",
      "lag_seconds",
      "latency_bucket",
      "held_max",
    ]);
    expect(samples[2]).to.deep.equal({ name: "requests_total", labels: { runtime: "a/c", status: "200" }, value: 5 });
    expect(samples[3].labels).to.deep.equal({ path: 'x"}y\\z\n' });
    expect(samples[3].value).to.equal(1000);
    expect(samples[4].value).to.be.NaN;
    expect(samples[5]).to.deep.include({ labels: { le: "+Inf" }, value: Infinity });
  });

  it("sums the series whose labels include the filter; 0 when none does", () => {
    expect(metricSum(page, "requests_total")).to.equal(20);
    expect(metricSum(page, "requests_total", { runtime: "a/b" })).to.equal(15);
    expect(metricSum(page, "requests_total", { status: "200" })).to.equal(17);
    expect(metricSum(page, "requests_total", { runtime: "a/d" })).to.equal(0);
    expect(metricSum(page, "requests")).to.equal(0);
  });

  it("reads one series by its exact label set, and throws when there is none", () => {
    expect(metricValue(page, "held_max")).to.equal(1000);
    expect(metricValue(page, "requests_total", { runtime: "a/b", status: "503" })).to.equal(3);
    expect(() => metricValue(page, "requests_total", { runtime: "a/b" })).to.throw(/0 series requests_total/);
    expect(() => metricValue(page, "held")).to.throw(/0 series held\{\}/);
  });

  it("refuses a line that is not exposition text, naming it", () => {
    expect(() => parseMetrics("requests_total{runtime=a} 1")).to.throw("not an exposition line (labels): requests_total{runtime=a} 1");
    expect(() => parseMetrics("held_max many")).to.throw("not an exposition line (value): held_max many");
    expect(() => parseMetrics("<html>")).to.throw("not an exposition line: <html>");
  });
});
