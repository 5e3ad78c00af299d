/**
 * Reconnect delays: exponential with "equal jitter" (attempt n waits a uniformly random time in
 * [d/2, d] where d = min(max, base · 2^n)), so clients whose node died do not return in lockstep.
 * The same rule as the Rust SDK (`client/src/backoff.rs`).
 */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 200, maxMs: 10_000 };

export function backoffCeiling(b: Backoff, attempt: number): number {
  const factor = 2 ** Math.min(Math.max(attempt, 0), 30);
  return Math.min(b.maxMs, b.baseMs * factor);
}

export function backoffDelay(b: Backoff, attempt: number, unit: number = Math.random()): number {
  const d = backoffCeiling(b, attempt);
  const u = Math.min(Math.max(unit, 0), 1);
  return d / 2 + (d / 2) * u;
}
