/**
 * Whether a new version's input/output signature can replace the active one's without breaking
 * callers: every input the new version wants is one callers already send (same name, datatype and
 * rank, fixed dimensions equal), and every output callers read is still there in the same form.
 */
import type { TensorSpec } from "./model-card.js";

function shapesFit(a: TensorSpec["shape"], b: TensorSpec["shape"]): boolean {
  if (a.length !== b.length) return false;
  return a.every((dim, i) => {
    const other = b[i];
    const fixed = (d: typeof dim | undefined) => typeof d === "number" && d > 0;
    return !fixed(dim) || !fixed(other) || dim === other;
  });
}

function describe(spec: TensorSpec): string {
  return `${spec.name} ${spec.datatype}[${spec.shape.map((d) => (d === "" ? "?" : d)).join(",")}]`;
}

/** The reasons `next` cannot replace `current`; empty when it can. */
export function schemaIncompatibilities(
  current: { inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] },
  next: { inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] },
): string[] {
  const reasons: string[] = [];
  for (const input of next.inputs) {
    const old = current.inputs.find((spec) => spec.name === input.name);
    if (old === undefined) reasons.push(`new input ${describe(input)}`);
    else if (old.datatype !== input.datatype || !shapesFit(old.shape, input.shape)) {
      reasons.push(`input ${describe(old)} becomes ${describe(input)}`);
    }
  }
  for (const output of current.outputs) {
    const replacement = next.outputs.find((spec) => spec.name === output.name);
    if (replacement === undefined) reasons.push(`output ${describe(output)} is gone`);
    else if (replacement.datatype !== output.datatype || !shapesFit(output.shape, replacement.shape)) {
      reasons.push(`output ${describe(output)} becomes ${describe(replacement)}`);
    }
  }
  return reasons;
}
