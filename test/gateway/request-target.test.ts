// Pure pieces of the follow-up path: request-target checks (shapes, dot-segments, encodings,
// absolute-form), the QueryInfo owner scan, the breaker's failure classification, identity headers.
import { expect } from "chai";
import { checkRequestTarget } from "../../gateway/request-target.ts";
import { sessionUserOf } from "../../gateway/sticky.ts";
import { isUnhealthyStatus } from "../../gateway/breaker.ts";
import { identityHeaderIssue } from "../../gateway/identity-headers.ts";
import { TicketSealer } from "../../gateway/held/queries.ts";

const id = "20260101_120000_00001_abc23";

describe("gateway request targets", () => {
  it("accepts the Trino client-protocol shapes and tells their kind and query id", () => {
    const cases: Array<[string, string, string, string | undefined]> = [
      ["POST", "/v1/statement", "new", undefined],
      ["GET", `/v1/statement/queued/${id}/y0123abc/1?maxWait=1s`, "poll", id],
      ["DELETE", `/v1/statement/executing/${id}/y0123abc/4`, "poll", id],
      ["DELETE", `/v1/statement/executing/partialCancel/${id}/2/y0123abc/3`, "partial-cancel", id],
      ["HEAD", `/v1/query/${id}`, "query", id],
      ["GET", "/v1/info", "info", undefined],
      // Trino 476's spooled segment URIs (coordinator_proxy retrieval): base64url ids, no query id
      ["GET", "/v1/spooled/download/XmVbT0zhnJJA3PMf2Fw5HjfZttUTioIpaCz-7RS5E5M=", "spooled", undefined],
      ["GET", "/v1/spooled/ack/XmVbT0zhnJJA3PMf2Fw5HjfZttUTioIpaCz-7RS5E5M=", "spooled", undefined],
      ["GET", "/HEALTHZ/", "probe", undefined],
    ];
    for (const [method, target, kind, queryId] of cases) {
      const checked = checkRequestTarget(method, target);
      expect(checked.ok && checked.target.kind, `${method} ${target}`).to.equal(kind);
      expect(checked.ok && checked.target.queryId, `${method} ${target}`).to.equal(queryId);
    }
  });

  it("turns an absolute-form target into origin-form and keeps its authority", () => {
    const checked = checkRequestTarget("DELETE", `http://gw.example:8080/v1/statement/executing/${id}/y0/1?x=1`);
    expect(checked.ok && checked.target).to.deep.include({
      kind: "poll",
      path: `/v1/statement/executing/${id}/y0/1`,
      search: "?x=1",
      authority: "gw.example:8080",
    });
  });

  it("refuses dot-segments, encodings, backslashes, empty segments and unknown shapes, naming the reason", () => {
    const cases: Array<[string, string, number, RegExp]> = [
      ["POST", `/v1/statement/executing/${id}/x/../../../../../v1/statement`, 400, /dot-segment/],
      ["GET", `/v1/statement/executing/${id}/./y/1`, 400, /dot-segment/],
      ["GET", `/v1/statement/executing/${id}/%2e%2e/1`, 400, /percent-encoding/],
      ["GET", `/v1/statement/executing/${id}/a%2Fb/1`, 400, /percent-encoding/],
      ["GET", `/v1/statement/executing/${id}/a\\b/1`, 400, /backslash/],
      ["GET", `/v1/query//${id}`, 400, /empty segment/],
      ["GET", "/v1/query/x y", 400, /space/],
      ["GET", "relative/path", 400, /origin-form/],
      ["DELETE", `http://alice:secret@gw:8080/v1/query/${id}`, 400, /user information/],
      ["PUT", "/v1/info/state", 405, /method PUT/],
      ["GET", "/v1/statement", 405, /method GET/],
      ["GET", "/v1/node", 404, /not a Trino client-protocol path/],
      ["GET", `/v1/query/${id}/killed`, 404, /not a Trino client-protocol path/],
      ["GET", "/v1/spooled/download/a/b", 404, /not a Trino client-protocol path/],
      ["POST", "/v1/spooled/ack/abc=", 405, /method POST/],
      ["GET", `/${"a".repeat(9000)}`, 400, /longer than/],
    ];
    for (const [method, target, status, reason] of cases) {
      const checked = checkRequestTarget(method, target);
      expect(checked.ok, `${method} ${target}`).to.equal(false);
      if (!checked.ok) {
        expect(checked.status, `${method} ${target}`).to.equal(status);
        expect(checked.message, `${method} ${target}`).to.match(reason);
      }
    }
  });
});

describe("gateway follow-up pieces", () => {
  it("reads session.user from the head of a QueryInfo, skipping nested values, never from the SQL", () => {
    expect(
      sessionUserOf(
        '{"queryId":"q","session":{"queryId":"q","querySpan":{"traceparent":"00-ab"},"groups":["user"],"user":"al\\"ice"},"query":"x"}',
      ),
    ).to.equal('al"ice');
    expect(sessionUserOf('{"queryId":"q","session":{"queryId":"user","x":{"user":"mallory"},"us')).to.equal(undefined);
    expect(sessionUserOf('{"query":"\\"session\\":{\\"user\\":\\"evil\\"}","session":{"user":"carol"}}')).to.equal("carol");
  });

  it("counts only 502/503/504 answers against a backend", () => {
    expect([500, 502, 503, 504, 404, 400, 200].map(isUnhealthyStatus)).to.deep.equal([false, true, true, true, false, false, false]);
  });

  it("checks X-Trino-Original-User, refuses X-Trino-Original-Roles and the X-Presto-* spellings", () => {
    const alice = { name: "alice", groups: [] };
    const mayActAs = (_principal: unknown, user: string) => user === "alice";
    expect(identityHeaderIssue({ "x-trino-original-user": "alice" }, alice, mayActAs)).to.equal(undefined);
    expect(identityHeaderIssue({ "x-trino-original-user": "bob" }, alice, mayActAs)).to.contain("x-trino-original-user");
    expect(identityHeaderIssue({ "x-trino-original-roles": "system=ROLE{admin}" }, alice, mayActAs)).to.contain("x-trino-original-roles");
    expect(identityHeaderIssue({ "x-presto-user": "bob" }, alice, mayActAs)).to.contain("x-presto-user");
    expect(identityHeaderIssue({ "x-presto-original-user": "bob" }, alice, mayActAs)).to.contain("x-presto-original-user");
    expect(identityHeaderIssue({ "x-trino-role": "system=ROLE{analyst}" }, alice, mayActAs)).to.equal(undefined);
  });

  it("seals a failure so only a replica with the key opens it, and a held ticket is not a failure", () => {
    const sealer = new TicketSealer("a-shared-ticket-key-of-at-least-32-characters");
    const failure = { id, errorName: "XTRINODE_UNKNOWN_RUNTIME", message: "no runtime team-z/x", user: "alice", createdAtMs: 1 };
    const sealed = sealer.sealFailure(failure);
    expect(sealed).to.not.contain("team-z");
    expect(sealer.openFailure(sealed)).to.deep.equal(failure);
    expect(new TicketSealer(undefined).openFailure(sealed)).to.equal(undefined);
    const ticket = sealer.slug({ id, namespace: "a", name: "b", sql: "SELECT 1", headers: {}, createdAtMs: 1, principal: "" });
    expect(sealer.openFailure(ticket)).to.equal(undefined);
    expect(sealer.open(sealed)).to.equal(undefined);
  });
});
