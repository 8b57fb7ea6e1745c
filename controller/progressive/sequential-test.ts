/**
 * The canary judge's test: evidence that a candidate differs from its baseline which stays valid
 * however often it is looked at (a reconcile tick reads it every few seconds for a whole bake).
 *
 * The split sends each request to the candidate with probability w (its weight) whatever the request
 * is. So if the candidate behaves as the baseline does, the version that answered any one outcome —
 * a 5xx, a 4xx, a latency in a given range — is the candidate with probability w, independently of
 * every other. Each outcome class ("bin") is then a sequence of coin flips with a known bias under
 * the null hypothesis, and the Bayes factor of a Beta prior on each bin's bias against that known bias
 * is a nonnegative martingale with expectation 1 (the product over bins too: each answer moves one
 * bin). By Ville's inequality it ever reaches 1/α with probability at most α, at any number of looks
 * (Lindon & Malek's anytime-valid multinomial test; the sequential tests of Netflix's "Rapid
 * regression detection in software deployments through sequential testing", KDD 2022).
 *
 * The factor depends only on each bin's counts, so it is the same whether it is computed after every
 * answer, at each tick or once.
 */

/** Counts of one outcome class: answers of the candidate and of the baseline in it. */
export interface BinCounts {
  readonly candidate: number;
  readonly baseline: number;
}

/** Prior strength (pseudo-answers) of each bin's Beta prior, centred on the weight. */
const PRIOR_STRENGTH = 2;

const LANCZOS = [
  0.999_999_999_999_809_9, 676.520_368_121_885_1, -1_259.139_216_722_402_8, 771.323_428_777_653_1,
  -176.615_029_162_140_6, 12.507_343_278_686_905, -0.138_571_095_265_720_12, 9.984_369_578_019_572e-6,
  1.505_632_735_149_311_6e-7,
];

/** ln Γ(x) for x > 0 (Lanczos' approximation, g = 7: ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0] ?? 0;
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] ?? 0) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const logBeta = (a: number, b: number) => logGamma(a) + logGamma(b) - logGamma(a + b);

/**
 * The natural log of the evidence (Bayes factor, an e-value) that the candidate's share of the
 * answers differs from `share` in some bin. Under the null it exceeds ln(1/α) with probability ≤ α
 * over any number of looks. Bins with no answers contribute nothing.
 */
export function logEvidence(bins: readonly BinCounts[], share: number): number {
  if (!(share > 0 && share < 1)) throw new RangeError(`share ${share} is not strictly between 0 and 1`);
  const a = PRIOR_STRENGTH * share;
  const b = PRIOR_STRENGTH * (1 - share);
  let total = 0;
  for (const { candidate, baseline } of bins) {
    if (candidate + baseline === 0) continue;
    total +=
      logBeta(a + candidate, b + baseline) -
      logBeta(a, b) -
      candidate * Math.log(share) -
      baseline * Math.log(1 - share);
  }
  return total;
}
