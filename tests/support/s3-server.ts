/**
 * A real S3-protocol server for integration tests, picked in this order:
 *   1. CUTOVER_S3_ENDPOINT from the environment (credentials from AWS_* variables);
 *   2. MinIO through testcontainers, when a Docker engine answers;
 *   3. s3rver as a child process on a free port (what these machines run).
 * Each test asks for its own bucket. The s3rver process can be killed and restarted on the same
 * port and data folder, to test what happens when the store goes away.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort, waitForPort } from "./free-port.js";
import { killHard } from "./kill-child.js";
import { tempDir } from "./temp-dir.js";

export interface S3TestServer {
  readonly kind: "env" | "minio" | "s3rver";
  readonly endpoint: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Creates a bucket with a unique name and returns it. */
  createBucket(label: string): Promise<string>;
  /** Kills the server (s3rver only); `start` brings it back on the same port and data. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

let bucketCounter = 0;

function uniqueBucket(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 30);
  return `ct-${clean}-${process.pid}-${Date.now().toString(36)}-${bucketCounter++}`.slice(0, 63).replace(/-+$/, "");
}

function bucketCreator(endpoint: string, credentials: S3TestServer["credentials"]) {
  return async (label: string): Promise<string> => {
    const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
    const bucket = uniqueBucket(label);
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    return bucket;
  };
}

function dockerAvailable(): boolean {
  return existsSync("/var/run/docker.sock") || (process.env.DOCKER_HOST ?? "") !== "";
}

async function startMinio(): Promise<S3TestServer> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const credentials = { accessKeyId: "cutover", secretAccessKey: "cutover-secret" };
  const container = await new GenericContainer("minio/minio:latest")
    .withCommand(["server", "/data"])
    .withEnvironment({ MINIO_ROOT_USER: credentials.accessKeyId, MINIO_ROOT_PASSWORD: credentials.secretAccessKey })
    .withExposedPorts(9000)
    .withWaitStrategy(Wait.forHttp("/minio/health/ready", 9000))
    .start();
  const endpoint = `http://${container.getHost()}:${container.getMappedPort(9000)}`;
  return {
    kind: "minio",
    endpoint,
    credentials,
    createBucket: bucketCreator(endpoint, credentials),
    kill: async () => {
      await container.stop();
    },
    start: async () => {
      throw new Error("a stopped MinIO container is not restarted by the test support");
    },
    stop: async () => {
      await container.stop();
    },
  };
}

async function startS3rver(): Promise<S3TestServer> {
  const port = await freePort();
  const data = await tempDir("cutover-s3rver-");
  const require = createRequire(import.meta.url);
  const bin = require.resolve("s3rver/bin/s3rver.js");
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(process.execPath, [bin, "-d", data.path, "-a", "127.0.0.1", "-p", String(port), "--silent"], {
      stdio: "ignore",
    });
    await waitForPort(port);
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    await killHard(running);
  };
  await start();
  return {
    kind: "s3rver",
    endpoint,
    credentials,
    createBucket: bucketCreator(endpoint, credentials),
    kill,
    start,
    stop: async () => {
      await kill();
      await data.cleanup();
    },
  };
}

/** Starts (or points at) the S3 server for a test file. */
export async function startS3Server(): Promise<S3TestServer> {
  const endpoint = process.env.CUTOVER_S3_ENDPOINT;
  if (endpoint) {
    const credentials = {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "minioadmin",
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "minioadmin",
    };
    const noRestart = async () => {
      throw new Error("an external S3 endpoint cannot be killed or restarted by the tests");
    };
    return {
      kind: "env",
      endpoint,
      credentials,
      createBucket: bucketCreator(endpoint, credentials),
      kill: noRestart,
      start: noRestart,
      stop: async () => undefined,
    };
  }
  if (dockerAvailable()) return startMinio();
  return startS3rver();
}
