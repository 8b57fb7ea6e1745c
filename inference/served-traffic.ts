/**
 * What each version of a model answered on this node since the node started: requests, failures (5xx),
 * rejections (4xx, as the split counts them) and the 2xx answers' latency histogram, for every request a version
 * answered — pinned, split or plain. The heartbeat record carries these cumulative counts
 * (nodeModelStatusSchema `served`); the controller's dashboard turns the difference between two
 * records into rates. Counts of a version no longer resident are dropped when the status is written,
 * so memory stays bounded; a version that comes back starts from zero, which readers take as a reset.
 */
import { type AnswerClass, countAnswer, emptyTraffic, type Traffic } from "../core/progressive.js";

export class ServedTraffic {
  private readonly versions = new Map<string, Traffic>();

  /** A request `version` answered in `ms`, with a 2xx, a 4xx or a 5xx. */
  answered(version: string, answer: AnswerClass, ms: number): void {
    let traffic = this.versions.get(version);
    if (traffic === undefined) {
      traffic = emptyTraffic();
      this.versions.set(version, traffic);
    }
    countAnswer(traffic, answer, ms);
  }

  /** Forgets the counts of every version not in `resident`. */
  retain(resident: ReadonlySet<string>): void {
    for (const version of this.versions.keys()) if (!resident.has(version)) this.versions.delete(version);
  }

  /** A copy of the counts, by version, as the node record says them (empty before any answer). */
  snapshot(): Record<string, Traffic> {
    const copy: Record<string, Traffic> = {};
    for (const [version, traffic] of this.versions) copy[version] = { ...traffic, buckets: [...traffic.buckets] };
    return copy;
  }
}
