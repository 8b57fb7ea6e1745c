/**
 * The smallest useful ONNX model: one Identity node on a [1] float tensor (IR 8, opset 17), encoded
 * here as protobuf bytes. Creating a session on it with a single execution provider says whether that
 * provider can start in this process at all, independently of any real model: a failure here is the
 * provider's (a missing shared library, no backend, no adapter), never a model's.
 */

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const FLOAT = 1;

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return bytes;
}

function numberField(field: number, value: number): number[] {
  return [...varint((field << 3) | VARINT), ...varint(value)];
}

function bytesField(field: number, content: number[] | string): number[] {
  const bytes = typeof content === "string" ? [...Buffer.from(content, "utf8")] : content;
  return [...varint((field << 3) | LENGTH_DELIMITED), ...varint(bytes.length), ...bytes];
}

/** ValueInfoProto { name, type: TypeProto { tensor_type { elem_type: FLOAT, shape { dim { dim_value: 1 } } } } } */
function floatVector(name: string): number[] {
  const shape = bytesField(1, numberField(1, 1));
  const tensorType = [...numberField(1, FLOAT), ...bytesField(2, shape)];
  return [...bytesField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

/** The probe model's bytes (a fresh copy each call). */
export function probeModelBytes(): Uint8Array {
  const node = [...bytesField(1, "x"), ...bytesField(2, "y"), ...bytesField(4, "Identity")];
  const graph = [
    ...bytesField(1, node),
    ...bytesField(2, "cutover-probe"),
    ...bytesField(11, floatVector("x")),
    ...bytesField(12, floatVector("y")),
  ];
  const opset = [...bytesField(1, ""), ...numberField(2, 17)];
  return Uint8Array.from([...numberField(1, 8), ...bytesField(7, graph), ...bytesField(8, opset)]);
}
