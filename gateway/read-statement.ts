// Reading a new statement's body within the size limit, the statement memory budget and the body
// timeout; on refusal the client is answered with a failed query it displays.
import type { IncomingMessage, ServerResponse } from "node:http";
import { failNewStatement } from "./answers.ts";
import type { ReadStatementServices } from "./core.ts";
import type { ForwardedView } from "./forwarded.ts";
import { StatementBody } from "./statement-memory.ts";
import { gatewayErrors, type TrinoErrorKind } from "./trino-protocol.ts";

/** How much of a refused statement is still read (and dropped) so its client gets the answer. */
const maxDrainedBytes = (maxBytes: number) => 4 * maxBytes;

/**
 * Reads a new statement's body within the size limit (statements.maxBytes), the memory budget
 * (statements.memoryBudgetBytes, shared with held statements) and the body timeout
 * (statements.bodyTimeoutMs). On refusal it answers the client itself with a failed query the
 * client displays, and resolves undefined. After a refusal the rest of the body (up to maxBytes
 * more) is read and dropped, so a client that sends its whole body before reading the answer
 * still gets it (up to 4 × maxBytes, then the connection is closed); the body timeout cuts the connection of a client too slow to finish.
 */
export function readStatement(
  core: ReadStatementServices,
  req: IncomingMessage,
  res: ServerResponse,
  forwarded: ForwardedView,
): Promise<StatementBody | undefined> {
  const { maxBytes, bodyTimeoutMs } = core.settings.statements;
  const memory = core.statementMemory;
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    let settled = false;
    let discarded = 0;
    const settle = (body: StatementBody | undefined) => {
      if (settled) return;
      settled = true;
      if (!body) {
        memory.release("buffered", received);
        chunks = [];
      }
      resolve(body);
    };
    const refuse = (reason: "too-large" | "budget" | "timeout", kind: TrinoErrorKind, message: string) => {
      core.metrics.statementsRefused.inc({ reason });
      core.logger.info(
        { event: "statement-refused", reason, client: forwarded.client, receivedBytes: received },
        "new statement refused while reading its body",
      );
      refused = true;
      if (!res.headersSent) failNewStatement(core, res, forwarded, kind, message, reason === "timeout" ? { connection: "close" } : {});
      settle(undefined);
    };
    const timer = setTimeout(() => {
      if (!refused)
        refuse(
          "timeout",
          gatewayErrors.statementTimeout,
          `the statement was not received within ${bodyTimeoutMs / 1000} s (statements.bodyTimeoutMs); the connection is closed`,
        );
      // Whatever is still arriving is cut: the answer goes out first, then the connection closes.
      if (res.writableFinished) req.socket.destroy();
      else res.once("finish", () => req.socket.destroy());
    }, bodyTimeoutMs);
    const tooLarge = () =>
      refuse(
        "too-large",
        gatewayErrors.statementTooLarge,
        `the statement is larger than ${maxBytes} bytes (statements.maxBytes of the gateway)`,
      );
    const declared = Number(req.headers["content-length"]);
    if (declared > maxBytes) {
      tooLarge();
      // Far too large to be worth reading to the end: the connection closes after the answer.
      if (declared > maxDrainedBytes(maxBytes)) res.once("finish", () => req.socket.destroy());
    }
    req.on("data", (chunk: Buffer) => {
      if (refused) {
        discarded += chunk.length;
        if (discarded > maxDrainedBytes(maxBytes)) req.socket.destroy();
        return;
      }
      if (received + chunk.length > maxBytes) return tooLarge();
      if (!memory.tryReserve("buffered", chunk.length)) {
        return refuse(
          "budget",
          gatewayErrors.gatewayBusy,
          `this gateway replica's statement memory is in use (${memory.budgetBytes} bytes of statements being received or held, statements.memoryBudgetBytes); retry shortly`,
        );
      }
      received += chunk.length;
      chunks.push(chunk);
    });
    req.on("end", () => {
      clearTimeout(timer);
      if (!refused) settle(new StatementBody(Buffer.concat(chunks, received), memory));
    });
    req.on("error", () => settle(undefined));
    req.on("close", () => {
      clearTimeout(timer);
      settle(undefined);
    });
  });
}
