/**
 * One infer call in binary tensor data (the Open Inference Protocol's binary extension, as Triton's
 * clients send it), with nothing but Node: a JSON header, then each input's raw little-endian bytes;
 * the header's length goes in `Inference-Header-Content-Length`, each input's byte count in its
 * `parameters.binary_data_size`. Outputs come back the same way (`binary_data_output: true`).
 *
 *   node examples/binary-infer.mjs [URL] [MODEL]      (defaults: http://127.0.0.1:8080 demo)
 *
 * The request is built from the model's metadata: each FP32 input filled with 0.5, -1.2, 3.3, 0.1, …
 * and every symbolic dimension 1.
 */
const [url = "http://127.0.0.1:8080", model = "demo"] = process.argv.slice(2);
const VALUES = [0.5, -1.2, 3.3, 0.1];
const TYPED = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  INT8: Int8Array,
  UINT16: Uint16Array,
  INT16: Int16Array,
  FP16: Uint16Array,
  UINT32: Uint32Array,
  INT32: Int32Array,
  FP32: Float32Array,
  UINT64: BigUint64Array,
  INT64: BigInt64Array,
  FP64: Float64Array,
};

const metadata = await (await fetch(`${url}/v2/models/${model}`)).json();
if (metadata.inputs === undefined) throw new Error(`${url}: ${metadata.error ?? "no metadata"}`);
const inputs = metadata.inputs.map(({ name, datatype, shape }) => {
  if (datatype !== "FP32") throw new Error(`this example fills FP32 inputs only; ${name} is ${datatype}`);
  const dims = shape.map((d) => (d < 0 ? 1 : d));
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => VALUES[i % VALUES.length]);
  return { name, datatype, shape: dims, data };
});

const header = Buffer.from(
  JSON.stringify({
    inputs: inputs.map(({ name, datatype, shape, data }) => ({
      name,
      datatype,
      shape,
      parameters: { binary_data_size: data.byteLength },
    })),
    parameters: { binary_data_output: true },
  }),
);
const body = Buffer.concat([header, ...inputs.map(({ data }) => new Uint8Array(data.buffer))]);
console.log(
  `POST ${url}/v2/models/${model}/infer: JSON header ${header.length} bytes + ${body.length - header.length} bytes of tensor data`,
);
const response = await fetch(`${url}/v2/models/${model}/infer`, {
  method: "POST",
  headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
  body,
});

const bytes = Buffer.from(await response.arrayBuffer());
const headerLength = Number(response.headers.get("inference-header-content-length") ?? bytes.length);
const answer = JSON.parse(bytes.subarray(0, headerLength).toString("utf8"));
console.log(
  `${response.status} ${response.headers.get("content-type")}, Inference-Header-Content-Length ${headerLength}`,
);
if (!response.ok) {
  console.log(answer.error);
  process.exit(1);
}
console.log(`model_version ${answer.model_version}`);
let offset = headerLength;
for (const output of answer.outputs) {
  const size = output.parameters?.binary_data_size;
  if (size === undefined) {
    console.log(`${output.name} ${output.datatype} [${output.shape}] (JSON): ${output.data.join(", ")}`);
    continue;
  }
  // A copy: a typed array must start at a multiple of its element size.
  const raw = new Uint8Array(bytes.subarray(offset, offset + size));
  offset += size;
  const Typed = TYPED[output.datatype];
  const values = Typed ? Array.from(new Typed(raw.buffer)) : [`${size} bytes`];
  console.log(`${output.name} ${output.datatype} [${output.shape}] (${size} bytes): ${values.join(", ")}`);
}
