/**
 * The statistics behind compare's verdict. Pure.
 *
 * The unit of evidence is one second of a run: requests inside a second share the target's state (a GC pause, a
 * cache, a queue), so they are not independent samples, while seconds of a steady run are roughly exchangeable.
 * A figure (say p95) is therefore judged on its per-second series, computed from each second's own histogram
 * (never from other percentiles), with a one-sided Mann–Whitney rank test — distribution-free, so it holds for
 * the skewed, heavy-tailed shape of latencies, and cheap (one sort) for a 1 h run.
 *
 * The tolerance is inside the test, not beside it: "candidate's p95 is more than 10 % above base's" is tested as
 * candidate's per-second p95s stochastically larger than base's multiplied by 1.10. A run whose difference is
 * real but within the tolerance does not pass the test, and a difference beyond the tolerance that the seconds
 * do not support is reported as inconclusive (within the run-to-run noise), not as a regression.
 */

/** Standard normal upper tail P(Z > z) (Abramowitz & Stegun 7.1.26 on erfc; |error| < 1.5e-7). */
export function normalUpper(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  const upper = erfc / 2;
  return z >= 0 ? upper : 1 - upper;
}

export interface RankTest {
  /** One-sided p-value of "y tends to be larger than x". */
  readonly p: number;
  /** Probability that a random y exceeds a random x (ties count half): 0.5 = no difference. */
  readonly auc: number;
  readonly nx: number;
  readonly ny: number;
}

/**
 * One-sided Mann–Whitney U test, H1: y is stochastically larger than x. Normal approximation with tie
 * correction and continuity correction; exact enumeration is not needed: below 3 values on a side the test
 * cannot reach any usual alpha anyway (its smallest p is 1/C(nx+ny, nx)), which the caller reports as
 * too few seconds.
 */
export function mannWhitneyGreater(x: readonly number[], y: readonly number[]): RankTest {
  const nx = x.length;
  const ny = y.length;
  if (nx === 0 || ny === 0) return { p: 1, auc: 0.5, nx, ny };
  const all = new Float64Array(nx + ny);
  const fromY = new Uint8Array(nx + ny);
  const order = new Uint32Array(nx + ny);
  for (let i = 0; i < nx; i++) all[i] = x[i]!;
  for (let i = 0; i < ny; i++) {
    all[nx + i] = y[i]!;
    fromY[nx + i] = 1;
  }
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => all[a]! - all[b]!);
  let rankSumY = 0;
  let tieTerm = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && all[order[j + 1]!] === all[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if (fromY[order[k]!]) rankSumY += rank;
    i = j + 1;
  }
  const uy = rankSumY - (ny * (ny + 1)) / 2;
  const n = nx + ny;
  const mean = (nx * ny) / 2;
  const variance = ((nx * ny) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { p: uy > mean ? 0 : 1, auc: uy / (nx * ny), nx, ny };
  const z = (uy - mean - 0.5) / Math.sqrt(variance);
  return { p: normalUpper(z), auc: uy / (nx * ny), nx, ny };
}

/**
 * One-sided two-proportion z-test, H1: rate(y) > rate(x) + margin (margin as a fraction, e.g. 0.005 for 0.5 pp).
 * Failures are counted per request here; the rank test above is per second because latencies are; an error
 * rate's unit would be per second too, but errors are rare enough that most seconds have none.
 */
export function proportionGreater(failX: number, nX: number, failY: number, nY: number, margin: number): number {
  if (nX === 0 || nY === 0) return 1;
  // Agresti–Caffo: one failure and one success added to each side. The plain Wald test has se = 0 when a side
  // has no failures (or only failures), so one failed request against a clean base read as p = 0.
  const px = (failX + 1) / (nX + 2);
  const py = (failY + 1) / (nY + 2);
  const se = Math.sqrt((px * (1 - px)) / (nX + 2) + (py * (1 - py)) / (nY + 2));
  const d = py - px - margin;
  return normalUpper(d / se);
}

/** A seeded PRNG (mulberry32) for reproducible synthetic data in tests and benches. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
