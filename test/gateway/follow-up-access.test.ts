// Follow-up access, tested with only the slice of the gateway core it uses (auth and routes).
import { expect } from "chai";
import { createAuthenticator } from "../../gateway/auth.ts";
import type { GatewayCore } from "../../gateway/core.ts";
import { mayUseBackend, usableBackends } from "../../gateway/follow-up-access.ts";
import { RoutesReader } from "../../gateway/routes-reader.ts";
import { silentLogger } from "../../lib/logger.ts";

const routesText = `apiVersion: xtrinode.io/v1alpha1
kind: GatewayRoutes
routes:
  - { name: analytics, namespace: team-a, backend: "http://a1:8080", state: RUNNING }
  - { name: reports, namespace: team-a, backend: "http://a2:8080", state: RUNNING }
  - { name: etl, namespace: team-b, backend: "http://b1:8080", state: RUNNING }
`;

function accessSlice(): Pick<GatewayCore, "auth" | "routes"> {
  const routes = new RoutesReader(silentLogger());
  expect(routes.apply(routesText, "test")).to.equal(true);
  const auth = createAuthenticator({ authorization: [{ runtime: "team-a/*", users: ["alice"] }] });
  return { auth, routes };
}

describe("gateway follow-up access (from its core slice)", () => {
  it("asks only the backends of runtimes the principal may use", () => {
    const core = accessSlice();
    expect(usableBackends(core, { name: "alice", groups: [] })).to.deep.equal(["http://a1:8080", "http://a2:8080"]);
    expect(usableBackends(core, { name: "mallory", groups: [] })).to.deep.equal([]);
  });

  it("lets a principal follow up on a backend only when it may use a runtime served there", () => {
    const core = accessSlice();
    expect(mayUseBackend(core, { name: "alice", groups: [] }, "http://a2:8080")).to.equal(true);
    expect(mayUseBackend(core, { name: "alice", groups: [] }, "http://b1:8080")).to.equal(false);
    expect(mayUseBackend(core, { name: "alice", groups: [] }, "http://unknown:8080")).to.equal(false);
  });
});
