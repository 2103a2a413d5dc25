// One memory budget for statement bodies: those being read from clients (buffered) and those held
// while their runtime resumes (held). Without it, 40 slow clients each sending most of a 10 MB
// statement, or 1,000 held statements, could take gigabytes.

export type StatementBytesKind = "buffered" | "held";

export class StatementMemory {
  readonly budgetBytes: number;
  private readonly used: Record<StatementBytesKind, number> = { buffered: 0, held: 0 };

  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes;
  }

  bytes(kind: StatementBytesKind): number {
    return this.used[kind];
  }

  get totalBytes(): number {
    return this.used.buffered + this.used.held;
  }

  /** Takes `bytes` of the budget for `kind`; false (nothing taken) when they do not fit. */
  tryReserve(kind: StatementBytesKind, bytes: number): boolean {
    if (this.totalBytes + bytes > this.budgetBytes) return false;
    this.used[kind] += bytes;
    return true;
  }

  release(kind: StatementBytesKind, bytes: number): void {
    this.used[kind] = Math.max(0, this.used[kind] - bytes);
  }

  /** A statement that was read becomes held: its bytes change kind (they were already in the budget). */
  transfer(bytes: number, from: StatementBytesKind, to: StatementBytesKind): void {
    this.release(from, bytes);
    this.used[to] += bytes;
  }
}

/** A statement body read within the budget: given back by release(), or kept by a held statement. */
export class StatementBody {
  readonly bytes: Buffer;
  private readonly memory: StatementMemory;
  private charged = true;

  constructor(bytes: Buffer, memory: StatementMemory) {
    this.bytes = bytes;
    this.memory = memory;
  }

  /** Gives the bytes back to the budget (once; a no-op after holdIn). */
  release(): void {
    if (!this.charged) return;
    this.charged = false;
    this.memory.release("buffered", this.bytes.length);
  }

  /** The statement is now held: its bytes count as held until the held statement ends. */
  holdIn(): void {
    if (!this.charged) return;
    this.charged = false;
    this.memory.transfer(this.bytes.length, "buffered", "held");
  }
}
