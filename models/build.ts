/**
 * Builds the demo and test models with the onnx-proto package (protobufjs classes for onnx.proto):
 *
 *   models/demo-classifier/v1, v2   features FP32 [batch, 4] → probabilities FP32 [batch, 3]
 *                                   (same schema, different weights: the answers differ visibly)
 *   models/demo-classifier/v3       features FP32 [batch, 8]: an incompatible input schema
 *   models/demo-classifier/batch-one
 *                                   v1's weights, features FP32 [1, 4]: refuses a request of two rows that v1
 *                                   takes (a version that rejects a class of requests with 400)
 *   models/demo-classifier/fails-negative
 *                                   v1's schema and weights, but its last Reshape takes its target shape
 *                                   from the sign of features[0][0]: a negative one fails inside
 *                                   onnxruntime at run time (a version that fails on a class of inputs)
 *   models/framer/v1, v2            audio FP32 [batch, samples] + sr INT64 scalar → energy FP32 [batch, frames]:
 *                                   frames of sr/100 samples, like a voice-activity front end. Synthetic
 *                                   warm-up inputs (sr 0) cannot run it; sample.json is a valid request.
 *                                   v2 has other weights (a gain of 1.5): same schema, other answers;
 *                                   v3 takes no sr (fixed at 16 kHz), as silero VAD's "half" export
 *                                   drops the sr input of its op15 one: callers of v1 that send sr break
 *   models/all-types/v1             x_<type> [n] → y_<type>: an Identity per OIP datatype onnxruntime-node
 *                                   takes (BOOL … FP64, BYTES), to round-trip every datatype over HTTP
 *   models/pool/v1                  image FP32 [batch, 3, 640, 640] → mean FP32 [batch, 3]: a ReduceMean over
 *                                   each channel; a large input with a small output (the binary bench)
 *   models/heavy/v1                 x FP32 [1, 1024] → y FP32 [1, 1024]: sixteen 1024×1024 MatMuls in a row
 *                                   (~0.4–0.6 s per run on one core here): a model whose run would hold
 *                                   the event loop for half a second if it ran on the main thread
 *   models/mixer/v1                 x FP32 [batch, 1024], offset FP32 [batch, n] → y FP32 [batch, 1024],
 *                                   offset_mean FP32 [batch, 1]: batchable (first dimension symbolic;
 *                                   requests with another n must not share a run). Each run computes a 1024×1024 mixing matrix
 *                                   (a 1024³ MatMul, ~35 ms on one core here) and multiplies the rows by
 *                                   it, so a run of 8 rows costs about what a run of 1 costs — as in
 *                                   models whose batch-1 run is bound by reading their weights
 *   models/pacer/v1, v2             x FP32 [batch, 1024] → y: 400 and 1200 chained 1024×1024 MatMuls (v2 does three
 *                                   times v1's work, same inputs and outputs): a canary three times slower;
 *                                   light and light-slower (40 and 60): a few ms, and 1.5× that (the
 *                                   analysis-accuracy bench)
 *   models/large/ (with --large)    x FP32 [batch, 4096] → y: one MatMul with a 4096×4096 FP32 weight
 *                                   (64 MiB, not committed): slow enough to load to watch a blue/green swap
 *
 * The weights of heavy and mixer are computed inside the graph (Range → Sin, which onnxruntime folds
 * into constants when it creates the session), so their model.onnx files are under 1 KB.
 *
 * Each demo-classifier version folder gets model.onnx, labels.txt and golden.json (Open Inference Protocol v2
 * requests and the responses onnxruntime gives, with a tolerance). Weights come from a seeded
 * generator, so the output is the same on every run.
 *
 *   npx tsx models/build.ts [--large] [--out DIR]
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import onnxProto, { type onnx as Onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import { seededRandom } from "../tests/support/seeded-random.js";

const { onnx } = onnxProto;

const OPSET = 17;
const IR_VERSION = 8;
const LABELS = ["cat", "dog", "bird"];
const LARGE_SIZE = 4096;

function floatTensor(name: string, dims: number[], values: Float32Array): Onnx.ITensorProto {
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

function floatInput(name: string, dims: (number | string)[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function randomWeights(count: number, random: () => number, scale: number): Float32Array {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = (random() * 2 - 1) * scale;
  return values;
}

function encodeModel(graph: Onnx.IGraphProto, docString: string): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: "cutover models/build.ts",
    docString,
    opsetImport: [{ domain: "", version: OPSET }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A linear classifier: softmax(features · W + b). */
function classifierModel(
  features: number,
  classes: number,
  seed: number,
  batch: string | number = "batch",
): Uint8Array {
  const random = seededRandom(seed);
  return encodeModel(
    {
      name: "demo-classifier",
      node: [
        { opType: "MatMul", input: ["features", "weights"], output: ["logits_raw"], name: "matmul" },
        { opType: "Add", input: ["logits_raw", "bias"], output: ["logits"], name: "add" },
        {
          opType: "Softmax",
          input: ["logits"],
          output: ["probabilities"],
          name: "softmax",
          attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: -1 }],
        },
      ],
      initializer: [
        floatTensor("weights", [features, classes], randomWeights(features * classes, random, 2)),
        floatTensor("bias", [classes], randomWeights(classes, random, 0.5)),
      ],
      input: [floatInput("features", [batch, features])],
      output: [floatInput("probabilities", [batch, classes])],
    },
    `demo classifier, seed ${seed}${batch === "batch" ? "" : `, batch fixed at ${batch}`}`,
  );
}

/**
 * The demo classifier whose answer is reshaped to [-1, 3 × sign(features[0][0])]: the same answer as
 * classifierModel for a first feature ≥ 0 (a 0 keeps the dimension), and a Reshape onnxruntime
 * refuses (a dimension below -1) for a negative one.
 */
function failsOnNegativeModel(features: number, classes: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  return encodeModel(
    {
      name: "demo-classifier-fails-negative",
      node: [
        { opType: "MatMul", input: ["features", "weights"], output: ["logits_raw"], name: "matmul" },
        { opType: "Add", input: ["logits_raw", "bias"], output: ["logits"], name: "add" },
        {
          opType: "Softmax",
          input: ["logits"],
          output: ["softmax"],
          name: "softmax",
          attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: -1 }],
        },
        { opType: "Slice", input: ["features", "first_start", "first_end"], output: ["first"], name: "first" },
        { opType: "Sign", input: ["first"], output: ["sign"], name: "sign" },
        {
          opType: "Cast",
          input: ["sign"],
          output: ["sign_int"],
          name: "sign_int",
          attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.INT64 }],
        },
        { opType: "Reshape", input: ["sign_int", "one_dim"], output: ["sign_1d"], name: "sign_1d" },
        { opType: "Mul", input: ["sign_1d", "classes"], output: ["width"], name: "width" },
        {
          opType: "Concat",
          input: ["any_rows", "width"],
          output: ["answer_shape"],
          name: "answer_shape",
          attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
        },
        { opType: "Reshape", input: ["softmax", "answer_shape"], output: ["probabilities"], name: "answer" },
      ],
      initializer: [
        floatTensor("weights", [features, classes], randomWeights(features * classes, random, 2)),
        floatTensor("bias", [classes], randomWeights(classes, random, 0.5)),
        int64Tensor("first_start", [2], [0n, 0n]),
        int64Tensor("first_end", [2], [1n, 1n]),
        int64Tensor("one_dim", [1], [1n]),
        int64Tensor("classes", [1], [BigInt(classes)]),
        int64Tensor("any_rows", [1], [-1n]),
      ],
      input: [floatInput("features", ["batch", features])],
      output: [floatInput("probabilities", ["batch", classes])],
    },
    `demo classifier, seed ${seed}, failing on a negative first feature`,
  );
}

function int64Tensor(name: string, dims: number[], values: bigint[]): Onnx.ITensorProto {
  const data = BigInt64Array.from(values);
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.INT64,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/**
 * Frame energies at a sample rate: audio [batch, samples] is cut into frames of sr/100 samples and
 * each frame's mean square, times `gain`, is the output. With sr 0 (what synthetic inputs give) the
 * frame length is 0 and onnxruntime refuses the Reshape; samples must be a multiple of sr/100.
 */
function framerModel(gain: number, fixedRate?: bigint): Uint8Array {
  const sr = { name: "sr", type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [] } } } };
  return encodeModel(
    {
      name: "framer",
      node: [
        { opType: "Div", input: ["sr", "hundred"], output: ["hop"], name: "hop" },
        { opType: "Unsqueeze", input: ["hop", "axis0"], output: ["hop1"], name: "hop1" },
        {
          opType: "Concat",
          input: ["keep_batch", "any_frames", "hop1"],
          output: ["frame_shape"],
          name: "frame_shape",
          attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
        },
        { opType: "Reshape", input: ["audio", "frame_shape"], output: ["frames"], name: "frames" },
        { opType: "Mul", input: ["frames", "frames"], output: ["squares"], name: "squares" },
        {
          opType: "ReduceMean",
          input: ["squares"],
          output: ["mean_square"],
          name: "mean_square",
          attribute: [
            { name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [2] },
            { name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 },
          ],
        },
        { opType: "Mul", input: ["mean_square", "gain"], output: ["energy"], name: "energy" },
      ],
      initializer: [
        int64Tensor("hundred", [], [100n]),
        int64Tensor("axis0", [1], [0n]),
        int64Tensor("keep_batch", [1], [0n]),
        int64Tensor("any_frames", [1], [-1n]),
        floatTensor("gain", [], Float32Array.of(gain)),
        ...(fixedRate === undefined ? [] : [int64Tensor("sr", [], [fixedRate])]),
      ],
      input: [floatInput("audio", ["batch", "samples"]), ...(fixedRate === undefined ? [sr] : [])],
      output: [floatInput("energy", ["batch", "frames"])],
    },
    `frame energies, gain ${gain}${fixedRate === undefined ? "" : `, sample rate fixed at ${fixedRate}`}`,
  );
}

/** An OIP request for the framer: 20 ms of a 440 Hz tone at 16 kHz, then 20 ms of a quieter one. */
function framerSample(): unknown {
  const audio = Array.from({ length: 640 }, (_, i) => {
    const amplitude = i < 320 ? 0.5 : 0.1;
    return Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / 16000) * 1e4) / 1e4;
  });
  return {
    inputs: [
      { name: "audio", shape: [1, 640], datatype: "FP32", data: audio },
      { name: "sr", shape: [], datatype: "INT64", data: [16000] },
    ],
  };
}

/** ONNX element types of the OIP datatypes the codec supports, by the suffix of the tensor names. */
const ALL_TYPES: readonly [string, number][] = [
  ["bool", onnx.TensorProto.DataType.BOOL],
  ["uint8", onnx.TensorProto.DataType.UINT8],
  ["int8", onnx.TensorProto.DataType.INT8],
  ["uint16", onnx.TensorProto.DataType.UINT16],
  ["int16", onnx.TensorProto.DataType.INT16],
  ["uint32", onnx.TensorProto.DataType.UINT32],
  ["int32", onnx.TensorProto.DataType.INT32],
  ["uint64", onnx.TensorProto.DataType.UINT64],
  ["int64", onnx.TensorProto.DataType.INT64],
  ["fp16", onnx.TensorProto.DataType.FLOAT16],
  ["fp32", onnx.TensorProto.DataType.FLOAT],
  ["fp64", onnx.TensorProto.DataType.DOUBLE],
  ["bytes", onnx.TensorProto.DataType.STRING],
];

/** One Identity per datatype: x_<type> [n] → y_<type>, what goes in comes back. */
function allTypesModel(): Uint8Array {
  const value = (name: string, elemType: number): Onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType, shape: { dim: [{ dimParam: "n" }] } } },
  });
  return encodeModel(
    {
      name: "all-types",
      node: ALL_TYPES.map(([type]) => ({
        opType: "Identity",
        input: [`x_${type}`],
        output: [`y_${type}`],
        name: type,
      })),
      input: ALL_TYPES.map(([type, elemType]) => value(`x_${type}`, elemType)),
      output: ALL_TYPES.map(([type, elemType]) => value(`y_${type}`, elemType)),
    },
    "an Identity per datatype",
  );
}

/** The mean of each channel of a 640×640 RGB image: a large input, a small output. */
function poolModel(): Uint8Array {
  return encodeModel(
    {
      name: "pool",
      node: [
        {
          opType: "ReduceMean",
          input: ["image"],
          output: ["mean"],
          name: "mean",
          attribute: [
            { name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [2, 3] },
            { name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 },
          ],
        },
      ],
      input: [floatInput("image", ["batch", 3, 640, 640])],
      output: [floatInput("mean", ["batch", 3])],
    },
    "channel means of a 640x640 image",
  );
}

/** A model whose load time is dominated by one large weight. */
function largeModel(size: number): Uint8Array {
  const random = seededRandom(7);
  return encodeModel(
    {
      name: "large",
      node: [{ opType: "MatMul", input: ["x", "weights"], output: ["y"], name: "matmul" }],
      initializer: [floatTensor("weights", [size, size], randomWeights(size * size, random, 0.01))],
      input: [floatInput("x", ["batch", size])],
      output: [floatInput("y", ["batch", size])],
    },
    `large MatMul ${size}x${size}`,
  );
}

function int64Vector(name: string, values: number[]): Onnx.ITensorProto {
  return int64Tensor(
    name,
    [values.length],
    values.map((value) => BigInt(value)),
  );
}

/**
 * Nodes computing a [rows, cols] weight sin(phase · i) / √rows (i the element's index) from a few
 * scalars: onnxruntime folds them into one constant when the session is created.
 */
function computedWeight(
  name: string,
  rows: number,
  cols: number,
  phase: number,
): {
  nodes: Onnx.INodeProto[];
  initializer: Onnx.ITensorProto[];
} {
  const scalar = (suffix: string, value: number) => floatTensor(`${name}_${suffix}`, [], Float32Array.of(value));
  return {
    initializer: [
      scalar("start", 0),
      scalar("limit", rows * cols),
      scalar("delta", 1),
      scalar("phase", phase),
      scalar("scale", 1 / Math.sqrt(rows)),
      int64Vector(`${name}_shape`, [rows, cols]),
    ],
    nodes: [
      { opType: "Range", input: [`${name}_start`, `${name}_limit`, `${name}_delta`], output: [`${name}_index`] },
      { opType: "Reshape", input: [`${name}_index`, `${name}_shape`], output: [`${name}_grid`] },
      { opType: "Mul", input: [`${name}_grid`, `${name}_phase`], output: [`${name}_angle`] },
      { opType: "Sin", input: [`${name}_angle`], output: [`${name}_sin`] },
      { opType: "Mul", input: [`${name}_sin`, `${name}_scale`], output: [name] },
    ],
  };
}

const HEAVY_WIDTH = 1024;
const HEAVY_STEPS = 16;

/** m₀ = W + x (x broadcast over rows), mₖ₊₁ = tanh(mₖ · W) sixteen times, y = the mean row. */
function heavyModel(): Uint8Array {
  const weight = computedWeight("w", HEAVY_WIDTH, HEAVY_WIDTH, 0.7);
  const nodes: Onnx.INodeProto[] = [...weight.nodes, { opType: "Add", input: ["w", "x"], output: ["m0"] }];
  for (let step = 0; step < HEAVY_STEPS; step++) {
    nodes.push(
      { opType: "MatMul", input: [`m${step}`, "w"], output: [`p${step}`] },
      { opType: "Tanh", input: [`p${step}`], output: [`m${step + 1}`] },
    );
  }
  nodes.push({
    opType: "ReduceMean",
    input: [`m${HEAVY_STEPS}`],
    output: ["y"],
    attribute: [
      { name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [0] },
      { name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 1 },
    ],
  });
  return encodeModel(
    {
      name: "heavy",
      node: nodes,
      initializer: weight.initializer,
      input: [floatInput("x", [1, HEAVY_WIDTH])],
      output: [floatInput("y", [1, HEAVY_WIDTH])],
    },
    `heavy: ${HEAVY_STEPS} chained ${HEAVY_WIDTH}x${HEAVY_WIDTH} MatMuls`,
  );
}

const MIXER_WIDTH = 1024;

/**
 * y = x · tanh(W' · W'), W' = W · (width / 1024) with the width read from x's shape at run time, so
 * onnxruntime cannot fold the 1024³ product: every run pays it once, whatever its batch. offset_mean
 * is each row's mean of `offset`, whose second dimension is free.
 */
function mixerModel(): Uint8Array {
  const weight = computedWeight("w", MIXER_WIDTH, MIXER_WIDTH, 0.37);
  return encodeModel(
    {
      name: "mixer",
      node: [
        ...weight.nodes,
        { opType: "Shape", input: ["x"], output: ["x_shape"] },
        { opType: "Gather", input: ["x_shape", "width_axis"], output: ["width_int"] },
        {
          opType: "Cast",
          input: ["width_int"],
          output: ["width"],
          attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT }],
        },
        { opType: "Mul", input: ["width", "inverse_width"], output: ["gain"] },
        { opType: "Mul", input: ["w", "gain"], output: ["w_scaled"] },
        { opType: "MatMul", input: ["w_scaled", "w_scaled"], output: ["mix_raw"] },
        { opType: "Tanh", input: ["mix_raw"], output: ["mix"] },
        { opType: "MatMul", input: ["x", "mix"], output: ["y"] },
        {
          opType: "ReduceMean",
          input: ["offset"],
          output: ["offset_mean"],
          attribute: [
            { name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [1] },
            { name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 1 },
          ],
        },
      ],
      initializer: [
        ...weight.initializer,
        int64Vector("width_axis", [1]),
        floatTensor("inverse_width", [1], Float32Array.of(1 / MIXER_WIDTH)),
      ],
      input: [floatInput("x", ["batch", MIXER_WIDTH]), floatInput("offset", ["batch", "n"])],
      output: [floatInput("y", ["batch", MIXER_WIDTH]), floatInput("offset_mean", ["batch", 1])],
    },
    `mixer: a ${MIXER_WIDTH}^3 MatMul per run, then x times its result`,
  );
}

const PACER_WIDTH = 1024;

/**
 * x [batch, 1024] → y: `layers` chained 1024² MatMul + Tanh with one computed weight, so a version's
 * cost is set by its layer count: pacer v1 (400 layers) and v2 (1200 layers, three times the work, the
 * same inputs and outputs) are the fast baseline and slow candidate of the canary latency test.
 */
function pacerModel(layers: number): Uint8Array {
  const weight = computedWeight("w", PACER_WIDTH, PACER_WIDTH, 0.53);
  const nodes: Onnx.INodeProto[] = [...weight.nodes, { opType: "Identity", input: ["x"], output: ["m0"] }];
  for (let layer = 0; layer < layers; layer++) {
    nodes.push(
      { opType: "MatMul", input: [`m${layer}`, "w"], output: [`p${layer}`] },
      { opType: "Tanh", input: [`p${layer}`], output: [layer === layers - 1 ? "y" : `m${layer + 1}`] },
    );
  }
  return encodeModel(
    {
      name: "pacer",
      node: nodes,
      initializer: weight.initializer,
      input: [floatInput("x", ["batch", PACER_WIDTH])],
      output: [floatInput("y", ["batch", PACER_WIDTH])],
    },
    `pacer: ${layers} chained ${PACER_WIDTH}x${PACER_WIDTH} MatMuls`,
  );
}

/** Golden vectors: fixed requests and what onnxruntime answers for them, as OIP v2 JSON. */
async function goldenVectors(
  modelPath: string,
  inputName: string,
  rows: number[][],
  extra: Record<string, number[][]> = {},
): Promise<unknown> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const inputs = Object.entries({ [inputName]: rows, ...extra }).map(([name, values]) => ({
      name,
      shape: [values.length, values[0]?.length ?? 0],
      datatype: "FP32",
      data: Array.from(Float32Array.from(values.flat())),
    }));
    const feeds = Object.fromEntries(
      inputs.map((input) => [input.name, new ort.Tensor("float32", Float32Array.from(input.data), input.shape)]),
    );
    const results = await session.run(feeds);
    const cases = Object.entries(results).map(([name, tensor]) => ({
      request: { inputs },
      response: {
        outputs: [{ name, shape: [...tensor.dims], datatype: "FP32", data: Array.from(tensor.data as Float32Array) }],
      },
    }));
    return { tolerance: { absolute: 1e-5, relative: 1e-4 }, cases };
  } finally {
    await session.release();
  }
}

async function writeVersion(dir: string, model: Uint8Array, inputName: string, rows: number[][]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "model.onnx"), model);
  await writeFile(join(dir, "labels.txt"), `${LABELS.join("\n")}\n`);
  const golden = await goldenVectors(join(dir, "model.onnx"), inputName, rows);
  const small = rows.flat().length <= 64;
  await writeFile(join(dir, "golden.json"), `${JSON.stringify(golden, null, small ? 2 : undefined)}\n`);
}

/** A version with model.onnx and golden.json only (the compute test models have no labels). */
async function writeComputeVersion(
  dir: string,
  model: Uint8Array,
  rows: number[][],
  extra: Record<string, number[][]> = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "model.onnx"), model);
  const golden = await goldenVectors(join(dir, "model.onnx"), "x", rows, extra);
  await writeFile(join(dir, "golden.json"), `${JSON.stringify(golden)}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { large: { type: "boolean", default: false }, out: { type: "string", default: import.meta.dirname } },
  });
  const out = values.out;
  const rows4 = [
    [0.5, -1.2, 3.3, 0.1],
    [-2, 0.25, 1, 1.5],
  ];
  await writeVersion(join(out, "demo-classifier/v1"), classifierModel(4, 3, 1), "features", rows4);
  await writeVersion(join(out, "demo-classifier/v2"), classifierModel(4, 3, 2), "features", rows4);
  await writeVersion(join(out, "demo-classifier/v3"), classifierModel(8, 3, 3), "features", [
    [0.5, -1.2, 3.3, 0.1, 1, 2, 3, 4],
  ]);
  // v1's weights with the batch fixed at 1: refuses (400) a request of two rows that v1 takes.
  await writeVersion(join(out, "demo-classifier/batch-one"), classifierModel(4, 3, 1, 1), "features", [rows4[0] ?? []]);
  // The golden rows' first feature is positive: the warm-up passes, requests with a negative one fail.
  await writeVersion(join(out, "demo-classifier/fails-negative"), failsOnNegativeModel(4, 3, 1), "features", rows4);
  console.log(`wrote demo-classifier v1, v2, v3, batch-one, fails-negative under ${out}`);
  for (const [version, gain, fixedRate] of [
    ["v1", 1, undefined],
    ["v2", 1.5, undefined],
    ["v3", 1, 16_000n],
  ] as const) {
    await mkdir(join(out, "framer", version), { recursive: true });
    await writeFile(join(out, "framer", version, "model.onnx"), framerModel(gain, fixedRate));
  }
  await writeFile(join(out, "framer/sample.json"), `${JSON.stringify(framerSample())}\n`);
  console.log(`wrote framer v1, v2, v3 and sample.json under ${out}`);
  for (const [name, model] of [
    ["all-types", allTypesModel()],
    ["pool", poolModel()],
  ] as const) {
    await mkdir(join(out, name, "v1"), { recursive: true });
    await writeFile(join(out, name, "v1", "model.onnx"), model);
  }
  console.log(`wrote all-types v1 and pool v1 under ${out}`);
  const wave = (length: number, phase: number) =>
    Array.from({ length }, (_, i) => Math.round(Math.sin(i * phase) * 1e4) / 1e4);
  await writeComputeVersion(join(out, "heavy/v1"), heavyModel(), [wave(HEAVY_WIDTH, 0.01)]);
  await writeComputeVersion(join(out, "mixer/v1"), mixerModel(), [wave(MIXER_WIDTH, 0.02)], {
    offset: [[0.5, 1.5, -1]],
  });
  console.log(`wrote heavy/v1 and mixer/v1 under ${out}`);
  for (const [version, layers] of [
    ["v1", 400],
    ["v2", 1200],
    ["light", 40],
    ["light-slower", 60],
  ] as const) {
    await writeComputeVersion(join(out, "pacer", version), pacerModel(layers), [wave(PACER_WIDTH, 0.03)]);
  }
  console.log(
    `wrote pacer v1 (400 layers), v2 (1200), light (40) and light-slower (60: 1.5× light's work) under ${out}`,
  );
  if (values.large) {
    const dir = join(out, "large");
    const random = seededRandom(11);
    await writeVersion(dir, largeModel(LARGE_SIZE), "x", [Array.from({ length: LARGE_SIZE }, () => random() * 2 - 1)]);
    console.log(`wrote ${dir} (model.onnx 64 MiB, golden.json)`);
  }
}

await main();
