// Deterministic fault decisions. Each decision is a hash of (seed, what, key), not a draw from a shared random
// stream, so the same seed makes the same payment suffer the same faults whatever order requests arrive in.
import { createHash } from 'node:crypto';

export class Chance {
  constructor(private readonly seed: string) {}

  /** A number in [0, 1) fixed by the seed and the arguments. */
  unit(what: string, key: string): number {
    const digest = createHash('sha256').update(`${this.seed}\0${what}\0${key}`).digest();
    return digest.readUInt32BE(0) / 2 ** 32;
  }

  /** True with probability `rate`. */
  happens(rate: number, what: string, key: string): boolean {
    return rate > 0 && this.unit(what, key) < rate;
  }

  /** An integer in [min, max]. */
  between(min: number, max: number, what: string, key: string): number {
    return min + Math.floor(this.unit(what, key) * (max - min + 1));
  }
}
