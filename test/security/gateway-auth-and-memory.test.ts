// Adversarial tests against real `xtrinode gateway` processes on 127.0.0.1 (issue 13, items 1 and 4):
// password guessing (back-off per client address and per user name, the same bcrypt work for
// unknown users, a good user during a flood) and statement bodies (slow bodies cut by the body
// timeout, oversize statements, one memory budget for bodies being read and held). Every loop is
// bounded in count; no assertion is about speed (bench/gateway-auth measures that).
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import bcrypt from "bcryptjs";
import yaml from "js-yaml";
import { randomBytes } from "node:crypto";
import v8 from "node:v8";
import vm from "node:vm";
import { Trino } from "trino-client";
import { LoginThrottle } from "../../gateway/login-throttle.ts";
import { killAllChildren, spawnGateway } from "../support/process.ts";
import { metricValue } from "../support/metrics-text.ts";
import { basicAuth, loopbackRequest, postStatement } from "./loopback-client.ts";
import { writeRoutesFile } from "../support/routes-file.ts";

const runtime = "team-a/analytics";

interface QueryResultsJson {
  id: string;
  nextUri?: string;
  stats: { state: string };
  error?: { errorName: string; message: string };
}

/** A gateway process with one PAUSED runtime (new statements are held: no Trino backend needed). */
async function startGatewayProcess(dir: string, config: Record<string, unknown>): Promise<string> {
  const routesFile = path.join(dir, "routes.yaml");
  writeRoutesFile(routesFile, [{ namespace: "team-a", name: "analytics", backend: "http://127.0.0.1:9", state: "PAUSED" }]);
  const configFile = path.join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(configFile, yaml.dump(config));
  const gateway = await spawnGateway({ routesFile, configFile, workers: 1 });
  return String(gateway.ready.url);
}

async function metrics(url: string): Promise<string> {
  return (await loopbackRequest(`${url}/metrics`)).text;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("security: gateway logins and statement memory (real gateway processes)", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "xtrinode-security-"));
  });
  after(async () => {
    await killAllChildren();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("wrong-password floods", () => {
    let url: string;
    const users = ["alice", "bob", "carol", "dave", "erin"];
    /** Users the flood guesses at; dave and erin log in meanwhile. */
    const targets = ["alice", "bob", "carol"];
    before(async () => {
      const passwordFile = path.join(dir, "password.db");
      writeFileSync(passwordFile, users.map((user) => `${user}:${bcrypt.hashSync(`${user}-secret`, 4)}`).join("\n") + "\n");
      url = await startGatewayProcess(dir, {
        auth: {
          passwordFile,
          loginThrottle: { freeFailures: 3, backoffBaseMs: 1000, backoffMaxMs: 8000 },
          passwordVerification: { workers: 1, maxPending: 64 },
        },
        held: { abandonAfterMs: 500 },
      });
    });

    it("backs off a client address after its free failures with a Trino error clients show (429, Retry-After), growing with each failure", async () => {
      const from = "127.0.0.2";
      // Someone else behind the same address (a NAT, an ingress without trustedProxies) logged in before.
      expect((await postStatement(url, runtime, basicAuth("erin", "erin-secret"), from)).status).to.equal(200);
      // Different (unknown) user names: only the address accumulates failures.
      for (const user of ["ghost-1", "ghost-2", "ghost-3"])
        expect((await postStatement(url, runtime, basicAuth(user, "guess"), from)).status).to.equal(401);
      const refused = await postStatement(url, runtime, basicAuth("ghost-4", "guess"), from);
      expect(refused.status).to.equal(429);
      expect(refused.headers["content-type"]).to.match(/^text\/plain/);
      expect(refused.text).to.match(
        /^XTRINODE_LOGIN_THROTTLED: authentication refused: too many failed logins for client address 127\.0\.0\.2; retry in 1 s/,
      );
      expect(refused.headers["retry-after"]).to.equal("1");
      // Even the right password is refused while the address backs off (no password check runs)...
      expect((await postStatement(url, runtime, basicAuth("alice", "alice-secret"), from)).status).to.equal(429);
      // ...but verified credentials (cached) still work from there: the address's other users keep polling.
      expect((await postStatement(url, runtime, basicAuth("erin", "erin-secret"), from)).status).to.equal(200);
      await sleep(1100);
      expect((await postStatement(url, runtime, basicAuth("ghost-5", "guess"), from)).status).to.equal(401);
      const longer = await postStatement(url, runtime, basicAuth("ghost-6", "guess"), from);
      expect(longer.status).to.equal(429);
      expect(longer.headers["retry-after"]).to.equal("2");
      const text = await metrics(url);
      expect(metricValue(text, "xtrinode_gateway_logins_total", { outcome: "throttled-address" })).to.be.at.least(3);
    });

    it("backs off a user name guessed from many addresses, but not the addresses that user already logged in from", async () => {
      expect((await postStatement(url, runtime, basicAuth("bob", "bob-secret"), "127.0.0.10")).status).to.equal(200);
      for (const from of ["127.0.0.11", "127.0.0.12", "127.0.0.13"])
        expect((await postStatement(url, runtime, basicAuth("bob", "guess"), from)).status).to.equal(401);
      const refused = await postStatement(url, runtime, basicAuth("bob", "guess"), "127.0.0.14");
      expect(refused.status).to.equal(429);
      expect(refused.text).to.contain("too many failed logins for user bob");
      // A first login from a new address waits out the back-off like a guess would (documented limit)...
      expect((await postStatement(url, runtime, basicAuth("bob", "bob-secret"), "127.0.0.15")).status).to.equal(429);
      // ...while bob keeps working from where he logged in before.
      expect((await postStatement(url, runtime, basicAuth("bob", "bob-secret"), "127.0.0.10")).status).to.equal(200);
    });

    it("runs the same bcrypt check for unknown users and malformed credentials as for known users, and none for a cached login", async () => {
      const checks = async () => metricValue(await metrics(url), "xtrinode_gateway_password_checks_total");
      const start = await checks();
      expect((await postStatement(url, runtime, basicAuth("carol", "wrong"), "127.0.0.20")).status).to.equal(401);
      const afterKnown = await checks();
      expect((await postStatement(url, runtime, basicAuth("nobody-here", "wrong"), "127.0.0.21")).status).to.equal(401);
      const afterUnknown = await checks();
      expect(
        (await postStatement(url, runtime, `Basic ${Buffer.from("no-colon-at-all").toString("base64")}`, "127.0.0.22")).status,
      ).to.equal(401);
      const afterMalformed = await checks();
      expect([afterKnown - start, afterUnknown - afterKnown, afterMalformed - afterUnknown]).to.deep.equal([1, 1, 1]);
      expect((await postStatement(url, runtime, basicAuth("carol", "carol-secret"), "127.0.0.23")).status).to.equal(200);
      expect((await postStatement(url, runtime, basicAuth("carol", "carol-secret"), "127.0.0.23")).status).to.equal(200);
      expect(await checks()).to.equal(afterMalformed + 1);
    });

    it("lets good users log in and answers /healthz during a flood of wrong passwords from many addresses", async () => {
      const floodCount = 200;
      const concurrency = 20;
      const statuses = new Map<string, number>();
      let sent = 0;
      const flooder = async (worker: number) => {
        while (sent < floodCount) {
          const index = sent++;
          const user = index % 2 === 0 ? targets[index % targets.length] : `unknown-${index}`;
          const from = `127.0.1.${1 + ((index + worker) % 20)}`;
          const answer = await postStatement(url, runtime, basicAuth(user, `wrong-${index}`), from).catch((error: Error) => ({
            status: -1,
            text: error.message,
          }));
          const key = String(answer.status);
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        }
      };
      const flood = Promise.all(Array.from({ length: concurrency }, (_, worker) => flooder(worker)));
      const goodLogins: number[] = [];
      const health: number[] = [];
      for (let i = 0; i < 5; i++) {
        goodLogins.push((await postStatement(url, runtime, basicAuth("dave", "dave-secret"), "127.0.2.1")).status);
        goodLogins.push((await postStatement(url, runtime, basicAuth("erin", "erin-secret"), `127.0.2.${2 + i}`)).status);
        health.push((await loopbackRequest(`${url}/healthz`)).status);
      }
      await flood;
      expect(goodLogins).to.deep.equal(Array(10).fill(200));
      expect(health).to.deep.equal(Array(5).fill(200));
      // Every guess was answered: 401 (checked) or 429 (backing off or busy), never a reset or 5xx.
      expect([...statuses.keys()].sort()).to.satisfy((keys: string[]) => keys.every((key) => key === "401" || key === "429"));
      expect((statuses.get("401") ?? 0) + (statuses.get("429") ?? 0)).to.equal(floodCount);
      expect(statuses.get("429") ?? 0).to.be.greaterThan(0);
    });
  });

  describe("statement bodies", () => {
    let url: string;
    const maxBytes = 64 * 1024;
    const budget = 256 * 1024;
    before(async () => {
      url = await startGatewayProcess(dir, {
        statements: { maxBytes, memoryBudgetBytes: budget, bodyTimeoutMs: 1500 },
        held: { abandonAfterMs: 60_000 },
      });
    });

    /** Opens a connection and sends a POST /v1/statement declaring `declared` bytes but sending only `sent`. */
    function partialStatement(
      declared: number,
      sent: number,
      routed = true,
    ): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
      const { hostname, port } = new URL(url);
      return new Promise((resolve, reject) => {
        const socket = net.connect({ host: hostname, port: Number(port) }, () => {
          socket.write(
            `POST /v1/statement HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-Trino-User: mallory\r\n${routed ? `X-Trino-XTrinode: ${runtime}\r\n` : ""}Content-Length: ${declared}\r\n\r\n`,
          );
          socket.write(Buffer.alloc(sent, "x"), () => resolve({ socket, received: () => output, closed }));
        });
        let output = "";
        socket.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
        const closed = new Promise<void>((done) => socket.on("close", () => done()));
        socket.on("error", () => undefined);
        socket.once("error", reject);
      });
    }

    async function failedPoll(nextUri: string): Promise<QueryResultsJson> {
      return JSON.parse((await loopbackRequest(nextUri)).text) as QueryResultsJson;
    }

    /** A complete statement to the runtime as mallory; its first answer (the three posts of the budget test). */
    async function submitStatement(body: string): Promise<QueryResultsJson> {
      const answer = await loopbackRequest(`${url}/v1/statement`, {
        method: "POST",
        headers: { "x-trino-user": "mallory", "x-trino-xtrinode": runtime },
        body,
      });
      return JSON.parse(answer.text) as QueryResultsJson;
    }

    function queuedAnswer(raw: string): QueryResultsJson {
      return JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as QueryResultsJson;
    }

    async function statementMemory(kind: "buffered" | "held"): Promise<number> {
      return metricValue(await metrics(url), "xtrinode_gateway_statement_memory_bytes", { kind });
    }

    it("cuts a connection whose statement body is slower than the body timeout, after answering with a Trino error; also one answered without reading its body", async () => {
      const slow = await partialStatement(1000, 10);
      // Unrouted (no runtime): answered at once, the body is never read; Node's requestTimeout cuts it.
      const unread = await partialStatement(1000, 10, false);
      const bound = (what: string) => sleep(15_000).then(() => expect.fail(`the gateway did not close the ${what} connection within 15 s`));
      await Promise.all([Promise.race([slow.closed, bound("slow")]), Promise.race([unread.closed, bound("unrouted slow")])]);
      expect(unread.received()).to.match(/^HTTP\/1\.1 200 /);
      expect(slow.received()).to.match(/^HTTP\/1\.1 200 /);
      const failed = await failedPoll(queuedAnswer(slow.received()).nextUri!);
      expect(failed.error?.errorName).to.equal("XTRINODE_STATEMENT_TIMEOUT");
      expect(failed.error?.message).to.contain("statements.bodyTimeoutMs");
      expect(metricValue(await metrics(url), "xtrinode_gateway_statements_refused_total", { reason: "timeout" })).to.equal(1);
      expect(await statementMemory("buffered")).to.equal(0);
    });

    it("answers a statement over statements.maxBytes with XTRINODE_STATEMENT_TOO_LARGE that trino-client shows, declared or chunked", async () => {
      const trino = Trino.create({ server: url, extraHeaders: { "X-Trino-XTrinode": runtime } });
      const iterator = await trino.query(`SELECT '${"x".repeat(maxBytes)}'`);
      const first = await iterator.next();
      const page = first.value.error ? first.value : (await iterator.next()).value;
      expect(page.error?.errorName).to.equal("XTRINODE_STATEMENT_TOO_LARGE");
      expect(page.error?.message).to.contain(`larger than ${maxBytes} bytes`);
      // Chunked (no Content-Length): found while reading; the answer still arrives.
      const chunked = await new Promise<string>((resolve, reject) => {
        const { hostname, port } = new URL(url);
        const socket = net.connect({ host: hostname, port: Number(port) }, () => {
          socket.write(
            `POST /v1/statement HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-Trino-User: mallory\r\nX-Trino-XTrinode: ${runtime}\r\nTransfer-Encoding: chunked\r\n\r\n`,
          );
          for (let i = 0; i < 5; i++) socket.write(`4000\r\n${"y".repeat(0x4000)}\r\n`);
          socket.write("0\r\n\r\n");
        });
        let output = "";
        socket.on("data", (chunk: Buffer) => {
          output += chunk.toString("utf8");
          if (output.includes("\r\n\r\n") && output.endsWith("}")) {
            socket.destroy();
            resolve(output);
          }
        });
        socket.on("error", reject);
      });
      expect((await failedPoll(queuedAnswer(chunked).nextUri!)).error?.errorName).to.equal("XTRINODE_STATEMENT_TOO_LARGE");
      expect(await statementMemory("buffered")).to.equal(0);
    });

    it("refuses statements with XTRINODE_GATEWAY_BUSY while bodies being read and held fill the budget, and accepts again once they are gone", async () => {
      const piece = 60 * 1024;
      // Two statements held (complete bodies, runtime paused) and two still arriving: 240 KiB of 256.
      const held = await Promise.all([0, 1].map(() => submitStatement("x".repeat(piece))));
      expect(held.map((result) => result.stats.state)).to.deep.equal(["QUEUED", "QUEUED"]);
      expect(held.every((result) => !result.nextUri!.includes("/failed/"))).to.equal(true);
      const arriving = [await partialStatement(piece + 10, piece), await partialStatement(piece + 10, piece)];
      expect(await statementMemory("held")).to.equal(2 * piece);
      expect(await statementMemory("buffered")).to.equal(2 * piece);
      const refused = await submitStatement("z".repeat(20 * 1024));
      const failure = await failedPoll(refused.nextUri!);
      expect(failure.error?.errorName).to.equal("XTRINODE_GATEWAY_BUSY");
      expect(failure.error?.message).to.contain("statements.memoryBudgetBytes");
      // The readers go away and a held statement is cancelled: the budget is free again.
      for (const connection of arriving) connection.socket.destroy();
      await loopbackRequest(held[0].nextUri!, { method: "DELETE" });
      for (let i = 0; i < 100 && (await statementMemory("buffered")) > 0; i++) await sleep(20);
      expect(await statementMemory("buffered")).to.equal(0);
      expect(await statementMemory("held")).to.equal(piece);
      const accepted = await submitStatement("z".repeat(20 * 1024));
      expect(accepted.stats.state).to.equal("QUEUED");
      expect(accepted.nextUri).to.not.contain("/failed/");
      expect(metricValue(await metrics(url), "xtrinode_gateway_statements_refused_total", { reason: "budget" })).to.equal(1);
    });
  });
});

describe("security: login back-off records stay small whatever user name a client sends", () => {
  it("2,000 refused logins with 12,000-character user names from a backing-off address retain under 8 MB", () => {
    // A refused attempt still records its user and user/address pair; keyed by the raw name, each
    // record kept the whole name (a 16 KiB header allows ~12,000 characters): 100,000 of them per map
    // took gigabytes for no bcrypt at all.
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const throttle = new LoginThrottle({ freeFailures: 2, backoffBaseMs: 60_000, backoffMaxMs: 300_000 });
    const now = 1_000_000;
    for (let i = 0; i < 2; i++) {
      const decision = throttle.check(`warm-up-${i}`, "10.9.9.9", false, now);
      if (decision.allowed) decision.release(true, now);
    }
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 2000; i++) {
      const decision = throttle.check(randomBytes(6000).toString("hex"), "10.9.9.9", false, now);
      expect(decision.allowed).to.equal(false);
    }
    gc();
    const retainedBytes = process.memoryUsage().heapUsed - before;
    expect(retainedBytes, `${retainedBytes} bytes retained`).to.be.below(8 * 2 ** 20);
  });
});
