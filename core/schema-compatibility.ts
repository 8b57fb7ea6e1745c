/**
 * Whether a new version's input/output signature can replace the active one's without breaking a
 * caller that works against the active one — judged from the caller's side, by what the node does
 * with its requests (core/tensor-codec.ts: every input the model takes must be sent, an input it
 * does not take is refused, datatype and rank must match, a fixed dimension must be met exactly):
 *
 * - every input callers send is still taken (a dropped input is refused as `unknown input`, as
 *   Triton refuses it), with the same datatype and rank, and every size the active version accepted
 *   is still accepted (a dimension that was free stays free; a fixed one stays the same or frees up);
 * - no new input is wanted (callers do not send it: `missing input`);
 * - every output callers read is still there, with the same datatype and rank, and a dimension that
 *   was fixed is not fixed to another size. A fixed dimension that becomes free passes: exporters
 *   free dimensions that keep their size in practice, and the replay of real requests on the staged
 *   candidate is what compares actual outputs.
 */
import type { TensorSpec } from "./model-card.js";

type Dim = TensorSpec["shape"][number];

const isFixed = (dim: Dim | undefined): dim is number => typeof dim === "number" && dim > 0;

function describe(spec: TensorSpec): string {
  return `${JSON.stringify(spec.name)} ${spec.datatype}[${spec.shape.map((d) => (d === "" ? "?" : d)).join(",")}]`;
}

/** Why an input callers send in `old`'s form is refused by `next`; null when every such request fits. */
function inputBreak(old: TensorSpec, next: TensorSpec): string | null {
  if (old.datatype !== next.datatype) return "callers send the old datatype";
  if (old.shape.length !== next.shape.length) return "callers send the old rank";
  const narrowed = next.shape.findIndex((dim, i) => isFixed(dim) && dim !== old.shape[i]);
  if (narrowed === -1) return null;
  const was = old.shape[narrowed];
  return isFixed(was)
    ? `dimension ${narrowed} must be ${next.shape[narrowed]}, callers send ${was}`
    : `dimension ${narrowed} was free and is now fixed to ${next.shape[narrowed]}`;
}

/** Why `next`'s form of an output callers read in `old`'s form breaks them; null when it does not. */
function outputBreak(old: TensorSpec, next: TensorSpec): string | null {
  if (old.datatype !== next.datatype) return "callers read the old datatype";
  if (old.shape.length !== next.shape.length) return "callers read the old rank";
  const moved = old.shape.findIndex((dim, i) => isFixed(dim) && isFixed(next.shape[i]) && dim !== next.shape[i]);
  return moved === -1 ? null : `dimension ${moved} was ${old.shape[moved]}, now ${next.shape[moved]}`;
}

/** The reasons `next` cannot replace `current` for callers of `current`; empty when it can. */
export function schemaIncompatibilities(
  current: { inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] },
  next: { inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] },
): string[] {
  const reasons: string[] = [];
  for (const old of current.inputs) {
    const replacement = next.inputs.find((spec) => spec.name === old.name);
    if (replacement === undefined) {
      reasons.push(`input ${describe(old)} is gone (callers that send it would get 400 unknown input)`);
      continue;
    }
    const why = inputBreak(old, replacement);
    if (why !== null) reasons.push(`input ${describe(old)} becomes ${describe(replacement)} (${why})`);
  }
  for (const input of next.inputs) {
    if (!current.inputs.some((spec) => spec.name === input.name)) {
      reasons.push(`new input ${describe(input)} (callers do not send it: 400 missing input)`);
    }
  }
  for (const old of current.outputs) {
    const replacement = next.outputs.find((spec) => spec.name === old.name);
    if (replacement === undefined) {
      reasons.push(`output ${describe(old)} is gone`);
      continue;
    }
    const why = outputBreak(old, replacement);
    if (why !== null) reasons.push(`output ${describe(old)} becomes ${describe(replacement)} (${why})`);
  }
  return reasons;
}
