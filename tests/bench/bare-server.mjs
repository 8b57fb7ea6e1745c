/**
 * The baseline for the infer-throughput figure: a bare `node:http` server that calls onnxruntime-node
 * directly — no framework, no routing table, no leases, no metrics, no fleet. It does what any
 * hand-written server must do for the same request: read the body, parse the JSON, build the input
 * tensor, run the session, encode the outputs as JSON.
 *
 *   node tests/bench/bare-server.mjs MODEL_FILE PORT [INTRA_OP_THREADS]
 *
 * Plain JavaScript, so that it runs as written (no loader, no transform).
 *
 * Prints "listening" once it accepts requests. Answers POST /v2/models/<m>/infer in the Open Inference
 * Protocol shape (the same body cutover answers), anything else with 404.
 */
import { createServer } from "node:http";
import * as ort from "onnxruntime-node";

const [modelFile, portText, threadsText] = process.argv.slice(2);
if (modelFile === undefined || portText === undefined) {
  process.stderr.write("usage: bare-server.mjs MODEL_FILE PORT [INTRA_OP_THREADS]\n");
  process.exit(2);
}
const session = await ort.InferenceSession.create(modelFile, {
  executionProviders: ["cpu"],
  ...(threadsText ? { intraOpNumThreads: Number(threadsText) } : {}),
});

const server = createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", async () => {
    try {
      const model = /^\/v2\/models\/([^/]+)\/infer$/.exec(request.url ?? "")?.[1];
      if (request.method !== "POST" || model === undefined) {
        response.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const feeds = {};
      for (const input of body.inputs) {
        feeds[input.name] = new ort.Tensor("float32", Float32Array.from(input.data), input.shape);
      }
      const results = await session.run(feeds);
      const outputs = Object.entries(results).map(([name, tensor]) => ({
        name,
        datatype: "FP32",
        shape: tensor.dims,
        data: Array.from(tensor.data),
      }));
      const answer = JSON.stringify({ model_name: model, model_version: "bare", outputs });
      response
        .writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) })
        .end(answer);
    } catch (error) {
      response.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: String(error) }));
    }
  });
});
server.listen(Number(portText), "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
