// Go-style durations (common.schema.json#/$defs/duration): "30s", "15m", "1h30m", "250ms".
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number {
  const parts = [...text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new Error(`invalid duration "${text}": use a Go duration such as 30s, 15m or 1h30m`);
  }
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * unitMs[unit], 0);
}
