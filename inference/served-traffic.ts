/**
 * What each version of a model answered on this node since the node started: requests, failures (5xx),
 * rejections (4xx, as the split counts them) and the 2xx answers' latency histogram, for every request a
 * version answered — pinned, split or plain. The heartbeat record carries these cumulative counts
 * (nodeModelStatusSchema `served`); the controller's dashboard turns the difference between two
 * records into rates. Counts of a version no longer resident are dropped when the status is written,
 * so memory stays bounded; a version that comes back starts from zero, which readers take as a reset.
 */
import { type AnswerClass, type Traffic, TrafficTally } from "../core/progressive.js";

export class ServedTraffic {
  private readonly versions = new Map<string, TrafficTally>();

  /** A request `version` answered in `ms`, with a 2xx, a 4xx or a 5xx. */
  answered(version: string, answer: AnswerClass, ms: number): void {
    let tally = this.versions.get(version);
    if (tally === undefined) {
      // No fine histogram: the dashboard reads the coarse one, and records stay small.
      tally = new TrafficTally({ fine: false });
      this.versions.set(version, tally);
    }
    tally.count(answer, ms);
  }

  /** Forgets the counts of every version not in `resident`. */
  retain(resident: ReadonlySet<string>): void {
    for (const version of this.versions.keys()) if (!resident.has(version)) this.versions.delete(version);
  }

  /** A copy of the counts, by version, as the node record says them (empty before any answer). */
  snapshot(): Record<string, Traffic> {
    const copy: Record<string, Traffic> = {};
    for (const [version, tally] of this.versions) copy[version] = tally.snapshot();
    return copy;
  }
}
