/**
 * Real inference nodes for tests: `startNode` with a configuration like the one `cutover node`
 * parses, on a free port, its own cache folder, and (optionally) its Redis reached through a proxy
 * that the test can cut. It resolves once the node has joined the fleet (read the state, heartbeat),
 * unless `waitForJoin` is false. Also a small OIP client and a load generator that never pauses.
 */
import { join } from "node:path";
import { DEFAULT_REPLAY, type NodeConfig } from "../../core/config.js";
import { SPLIT_KEY_HEADER } from "../../core/progressive.js";
import { type RunningNode, startNode } from "../../inference/server.js";
import type { ControllerHarness } from "./controller-harness.js";
import { MODEL } from "./controller-harness.js";
import { type CuttingProxy, startCuttingProxy } from "./cutting-proxy.js";
import { tempDir } from "./temp-dir.js";

export interface TestNode {
  readonly node: RunningNode;
  readonly url: string;
  readonly config: NodeConfig;
  /** The proxy in front of this node's Redis, when asked for. */
  readonly redisProxy?: CuttingProxy;
  close(): Promise<void>;
}

export const FEATURES = [0.5, -1.2, 3.3, 0.1];

export async function startTestNode(
  harness: ControllerHarness,
  prefix: string,
  nodeId: string,
  overrides: Partial<NodeConfig> & { proxyRedis?: boolean; waitForJoin?: boolean; log?: (line: string) => void } = {},
): Promise<TestNode> {
  const { proxyRedis, waitForJoin, log, ...configOverrides } = overrides;
  const base = harness.config(prefix);
  const cache = configOverrides.cacheDir ?? join((await tempDir(`cutover-node-${nodeId}-`)).path, "cache");
  const redisProxy = proxyRedis ? await startCuttingProxy(harness.redis.port) : undefined;
  const config: NodeConfig = {
    store: base.store,
    prefix: base.prefix,
    trustedKeyPaths: base.trustedKeyPaths,
    cacheDir: cache,
    redisUrl: redisProxy ? `redis://127.0.0.1:${redisProxy.port}` : base.redisUrl,
    redisPrefix: prefix,
    nodeId,
    url: `http://127.0.0.1/${nodeId}`,
    port: 0,
    models: [MODEL],
    executionProviders: ["cpu"],
    keepWarm: 1,
    replay: DEFAULT_REPLAY,
    cacheSpare: 2,
    resyncMs: 500,
    heartbeatTtlMs: 1_000,
    maxRequestBytes: 64 * 1024,
    ...configOverrides,
  };
  const node = await startNode(config, { serverVersion: "test", ...(log ? { log } : {}) });
  // A node listens before it has read the state; tests that act on the fleet next need it joined.
  if (waitForJoin ?? true) await node.agent.joined;
  return {
    node,
    url: `http://127.0.0.1:${node.port}`,
    config,
    ...(redisProxy ? { redisProxy } : {}),
    async close() {
      await node.close();
      await redisProxy?.close();
    },
  };
}

export interface InferAnswer {
  status: number;
  version?: string;
  body: { model_version?: string; outputs?: { name: string; data: number[] }[]; error?: string };
}

export async function infer(
  url: string,
  options: { model?: string; version?: string; body?: unknown; raw?: string; key?: string } = {},
): Promise<InferAnswer> {
  const model = options.model ?? MODEL;
  const path = options.version ? `/v2/models/${model}/versions/${options.version}/infer` : `/v2/models/${model}/infer`;
  const body =
    options.raw ??
    JSON.stringify(options.body ?? { inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }] });
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(options.key !== undefined ? { [SPLIT_KEY_HEADER]: options.key } : {}),
    },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  const json = (await response.json()) as InferAnswer["body"];
  return { status: response.status, ...(json.model_version ? { version: json.model_version } : {}), body: json };
}

/**
 * Sends `count` infer requests from `concurrency` workers (default 8) and returns every answer, in the
 * order of `options(i)`, which gives request i's key, body or pinned version.
 */
export async function inferMany(
  url: string,
  count: number,
  options: (i: number) => Parameters<typeof infer>[1] = () => ({}),
  concurrency = 8,
): Promise<InferAnswer[]> {
  const answers: InferAnswer[] = new Array<InferAnswer>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) answers[i] = await infer(url, options(i));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return answers;
}

/**
 * Sends infer requests back to back from `concurrency` workers until stopped; records every answer.
 * With several models, worker i asks `models[i % models.length]`.
 */
export function loadGenerator(urls: readonly string[], concurrency: number, models: readonly string[] = [MODEL]) {
  const answers: {
    status: number;
    version: string | undefined;
    sentAt: number;
    at: number;
    url: string;
    model: string;
  }[] = [];
  let running = true;
  const workers = Array.from({ length: concurrency }, async (_, worker) => {
    let i = worker;
    const model = models[worker % models.length] ?? MODEL;
    while (running) {
      const url = urls[i++ % urls.length] ?? "";
      const sentAt = Date.now();
      try {
        const answer = await infer(url, { model });
        answers.push({ status: answer.status, version: answer.version, sentAt, at: Date.now(), url, model });
      } catch (error) {
        answers.push({ status: 0, version: String(error), sentAt, at: Date.now(), url, model });
      }
    }
  });
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(workers);
      return answers;
    },
  };
}
