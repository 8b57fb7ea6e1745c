/**
 * What one step of a progressive rollout did on this node, per version: requests answered, failures
 * (5xx), rejections (4xx: a request the version would not take; compared with the baseline's on the
 * same split, since clients send both the same requests), the 2xx answers' latency histogram, and on the candidate the
 * baseline requests mirrored to it and those whose outputs diverged. One per split seq, so every step
 * starts from zero; the heartbeat record carries it (nodeSplitSchema) for the controller's analysis.
 */
import { type AnswerClass, countAnswer, emptyTraffic, type Traffic } from "../core/progressive.js";

export class SplitTraffic {
  private readonly versions = new Map<string, Traffic>();

  constructor(baseline: string | null, candidate: string) {
    // Both entries from the start: a step in which one version answered nothing says so with zeros.
    if (baseline !== null) this.versions.set(baseline, emptyTraffic());
    this.versions.set(candidate, { ...emptyTraffic(), shadowed: 0, divergent: 0 });
  }

  /** A request `version` answered in `ms`, with a 2xx, a 4xx or a 5xx. */
  answered(version: string, answer: AnswerClass, ms: number): void {
    countAnswer(this.of(version), answer, ms);
  }

  /** A baseline request mirrored to `candidate`; `divergent`: its outputs were not the baseline's. */
  shadowed(candidate: string, divergent: boolean): void {
    const traffic = this.of(candidate);
    traffic.shadowed = (traffic.shadowed ?? 0) + 1;
    if (divergent) traffic.divergent = (traffic.divergent ?? 0) + 1;
  }

  /** A copy of the counts, by version, as the node record says them. */
  snapshot(): Record<string, Traffic> {
    const copy: Record<string, Traffic> = {};
    for (const [version, traffic] of this.versions) copy[version] = { ...traffic, buckets: [...traffic.buckets] };
    return copy;
  }

  private of(version: string): Traffic {
    let traffic = this.versions.get(version);
    if (traffic === undefined) {
      traffic = emptyTraffic();
      this.versions.set(version, traffic);
    }
    return traffic;
  }
}
