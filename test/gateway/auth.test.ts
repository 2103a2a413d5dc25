// Authentication and authorisation (pure parts): password.db parsing, bcrypt and JWT
// verification, impersonation and per-runtime rules.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import bcrypt from "bcryptjs";
import { SignJWT } from "jose";
import { createAuthenticator, matchesRuntime, parsePasswordFile } from "../../gateway/auth.ts";
import { PasswordVerifier } from "../../gateway/password-verifier.ts";

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("gateway auth", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "xtrinode-auth-"));
    writeFileSync(
      path.join(dir, "password.db"),
      `# users\nalice:${bcrypt.hashSync("wonderland", 4)}\nbob:${bcrypt.hashSync("builder", 4)}\n`,
    );
    writeFileSync(path.join(dir, "jwt.key"), "a-test-hmac-secret-of-enough-length-123");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("rejects a malformed password file naming the line", () => {
    expect(() => parsePasswordFile("alice:plaintext\n", "users.db")).to.throw(/users\.db:1: expected user:bcrypthash/);
  });

  it("verifies Basic credentials against bcrypt hashes", async () => {
    const auth = createAuthenticator({ passwordFile: path.join(dir, "password.db"), groups: { analysts: ["alice"] } });
    expect(auth.enabled).to.equal(true);
    const ok = await auth.authenticate(basic("alice", "wonderland"));
    expect(ok).to.deep.equal({ ok: true, principal: { name: "alice", groups: ["analysts"] } });
    expect((await auth.authenticate(basic("alice", "wrong"))).ok).to.equal(false);
    expect((await auth.authenticate(basic("mallory", "x"))).ok).to.equal(false);
    expect((await auth.authenticate(undefined)).ok).to.equal(false);
  });

  it("verifies bearer JWTs with the configured key, issuer and groups claim", async () => {
    const auth = createAuthenticator({ jwt: { keyFile: path.join(dir, "jwt.key"), issuer: "idp" } });
    const key = new TextEncoder().encode("a-test-hmac-secret-of-enough-length-123");
    const token = await new SignJWT({ groups: ["etl"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("carol")
      .setIssuer("idp")
      .setExpirationTime("5m")
      .sign(key);
    expect(await auth.authenticate(`Bearer ${token}`)).to.deep.equal({ ok: true, principal: { name: "carol", groups: ["etl"] } });
    const wrongIssuer = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("carol").setIssuer("other").sign(key);
    expect((await auth.authenticate(`Bearer ${wrongIssuer}`)).ok).to.equal(false);
  });

  it("refuses a JWT without exp unless jwt.requireExpiration is false", async () => {
    const key = new TextEncoder().encode("a-test-hmac-secret-of-enough-length-123");
    const forever = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("carol").sign(key);
    const strict = createAuthenticator({ jwt: { keyFile: path.join(dir, "jwt.key") } });
    const refused = await strict.authenticate(`Bearer ${forever}`);
    expect(refused.ok).to.equal(false);
    expect(refused.ok ? "" : refused.message).to.match(/exp/);
    const lenient = createAuthenticator({ jwt: { keyFile: path.join(dir, "jwt.key"), requireExpiration: false } });
    expect((await lenient.authenticate(`Bearer ${forever}`)).ok).to.equal(true);
  });

  it("checks passwords on worker threads with a bounded queue: beyond maxPending a check is refused as busy", async () => {
    const verifier = new PasswordVerifier(1, 2);
    try {
      const hash = bcrypt.hashSync("right", 4);
      const outcomes = await Promise.all(["right", "wrong", "right", "wrong", "right"].map((password) => verifier.verify(password, hash)));
      expect(outcomes).to.deep.equal(["match", "mismatch", "busy", "busy", "busy"]);
      expect(verifier.checks).to.equal(2);
      expect(verifier.pending).to.equal(0);
      expect(await verifier.verify("right", "$2b$04$not-a-valid-hash")).to.equal("mismatch");
    } finally {
      await verifier.close();
    }
  });

  it("applies impersonation and first-matching runtime rules", () => {
    const auth = createAuthenticator({
      impersonation: { alice: ["svc-report"] },
      authorization: [
        { runtime: "team-a/*", users: ["alice"], groups: ["etl"] },
        { runtime: "*", users: ["bob"] },
      ],
    });
    const alice = { name: "alice", groups: [] };
    expect(auth.mayActAs(alice, "alice")).to.equal(true);
    expect(auth.mayActAs(alice, "svc-report")).to.equal(true);
    expect(auth.mayActAs(alice, "bob")).to.equal(false);
    expect(auth.mayUse(alice, "team-a/analytics")).to.equal(true);
    expect(auth.mayUse({ name: "dave", groups: ["etl"] }, "team-a/x")).to.equal(true);
    expect(auth.mayUse(alice, "team-b/x")).to.equal(false);
    expect(auth.mayUse({ name: "bob", groups: [] }, "team-a/x")).to.equal(false);
    expect(matchesRuntime("team-a/*", "team-ab/x")).to.equal(false);
  });
});
