/**
 * Tensors copied and measured: a run in a worker takes (transfers) its feeds' buffers, so the warm-up,
 * which reuses its feeds, and a shadow run, which needs a request's inputs after the primary ran, hand
 * it copies; the replay buffer keeps copies of the outputs it holds and counts their bytes.
 */
import * as ort from "onnxruntime-node";

/** Copies of tensors, buffers and all. */
export function copyFeeds(feeds: Readonly<Record<string, ort.Tensor>>): Record<string, ort.Tensor> {
  const copies: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    const data = tensor.data;
    copies[name] = new ort.Tensor(tensor.type, Array.isArray(data) ? [...data] : data.slice(), [...tensor.dims]);
  }
  return copies;
}

/** The bytes of tensors' data; a string counts its UTF-16 length twice (what the heap holds of it). */
export function tensorsBytes(tensors: Readonly<Record<string, ort.Tensor>>): number {
  let total = 0;
  for (const tensor of Object.values(tensors)) {
    const data = tensor.data;
    total += Array.isArray(data)
      ? data.reduce((sum: number, text: string) => sum + 2 * text.length, 0)
      : data.byteLength;
  }
  return total;
}
