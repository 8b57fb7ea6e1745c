/**
 * What one step of a progressive rollout did on this node, per version: requests answered, failures
 * (5xx), rejections (4xx: a request the version would not take; compared with the baseline's on the
 * same split, since clients send both the same requests), the 2xx answers' latency histograms (coarse,
 * and the fine one the analysis judges), and on the candidate the baseline requests mirrored to it and
 * those whose outputs diverged. One per split seq, so every step starts from zero; the heartbeat record
 * carries it (nodeSplitSchema) for the controller's analysis.
 */
import { type AnswerClass, type Traffic, TrafficTally } from "../core/progressive.js";

export class SplitTraffic {
  private readonly versions = new Map<string, TrafficTally>();

  constructor(baseline: string | null, candidate: string) {
    // Both entries from the start: a step in which one version answered nothing says so with zeros.
    if (baseline !== null) this.versions.set(baseline, new TrafficTally({ fine: true }));
    this.versions.set(candidate, new TrafficTally({ fine: true, shadow: true }));
  }

  /** A request `version` answered in `ms`, with a 2xx, a 4xx or a 5xx. */
  answered(version: string, answer: AnswerClass, ms: number): void {
    this.of(version).count(answer, ms);
  }

  /** A baseline request mirrored to `candidate`; `divergent`: its outputs were not the baseline's. */
  shadowed(candidate: string, divergent: boolean): void {
    this.of(candidate).shadowed(divergent);
  }

  /** A copy of the counts, by version, as the node record says them. */
  snapshot(): Record<string, Traffic> {
    const copy: Record<string, Traffic> = {};
    for (const [version, tally] of this.versions) copy[version] = tally.snapshot();
    return copy;
  }

  private of(version: string): TrafficTally {
    let tally = this.versions.get(version);
    if (tally === undefined) {
      tally = new TrafficTally({ fine: true });
      this.versions.set(version, tally);
    }
    return tally;
  }
}
