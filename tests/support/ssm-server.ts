/**
 * A STAND-IN for AWS SSM Parameter Store, for tests on machines without Docker (where LocalStack
 * would run). It speaks the AWS JSON 1.1 protocol for exactly the actions cutover uses —
 * GetParameter and PutParameter — with their real semantics: ParameterNotFound for a missing name,
 * ParameterAlreadyExists when overwriting without Overwrite, and a version number that starts at 1
 * and grows by one on each write. It ignores request signatures. It is not a general SSM emulator.
 */
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";

interface StoredParameter {
  value: string;
  type: string;
  version: number;
  modified: number;
}

export interface SsmTestServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

function awsError(type: string, message: string): { status: number; body: unknown } {
  return { status: 400, body: { __type: type, message } };
}

function handle(
  parameters: Map<string, StoredParameter>,
  target: string,
  input: Record<string, unknown>,
): { status: number; body: unknown } {
  const name = typeof input.Name === "string" ? input.Name : "";
  if (name === "") return awsError("ValidationException", "Name is required");
  switch (target) {
    case "AmazonSSM.GetParameter": {
      const parameter = parameters.get(name);
      if (parameter === undefined) return awsError("ParameterNotFound", `Parameter ${name} not found.`);
      return {
        status: 200,
        body: {
          Parameter: {
            Name: name,
            Type: parameter.type,
            Value: parameter.value,
            Version: parameter.version,
            LastModifiedDate: parameter.modified / 1000,
            ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${name}`,
            DataType: "text",
          },
        },
      };
    }
    case "AmazonSSM.PutParameter": {
      if (typeof input.Value !== "string") return awsError("ValidationException", "Value is required");
      const existing = parameters.get(name);
      if (existing !== undefined && input.Overwrite !== true) {
        return awsError(
          "ParameterAlreadyExists",
          "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
        );
      }
      const version = (existing?.version ?? 0) + 1;
      parameters.set(name, {
        value: input.Value,
        type: typeof input.Type === "string" ? input.Type : "String",
        version,
        modified: Date.now(),
      });
      return { status: 200, body: { Version: version, Tier: "Standard" } };
    }
    default:
      return awsError("UnknownOperationException", `the stand-in does not implement ${target}`);
  }
}

function dockerAvailable(): boolean {
  return existsSync("/var/run/docker.sock") || (process.env.DOCKER_HOST ?? "") !== "";
}

/** LocalStack's SSM through testcontainers. */
async function startLocalStack(): Promise<SsmTestServer> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const container = await new GenericContainer("localstack/localstack:latest")
    .withEnvironment({ SERVICES: "ssm" })
    .withExposedPorts(4566)
    .withWaitStrategy(Wait.forHttp("/_localstack/health", 4566))
    .start();
  return {
    endpoint: `http://${container.getHost()}:${container.getMappedPort(4566)}`,
    stop: async () => {
      await container.stop();
    },
  };
}

/** LocalStack when a Docker engine answers, else the stand-in. */
export async function startSsmServer(): Promise<SsmTestServer> {
  return dockerAvailable() ? startLocalStack() : startStandIn();
}

async function startStandIn(): Promise<SsmTestServer> {
  const parameters = new Map<string, StoredParameter>();
  const server: Server = createServer((request, response) => {
    let raw = "";
    request.on("data", (chunk: Buffer) => {
      raw += chunk.toString();
    });
    request.on("end", () => {
      let input: Record<string, unknown> = {};
      try {
        input = raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
      } catch {
        input = {};
      }
      const { status, body } = handle(parameters, String(request.headers["x-amz-target"] ?? ""), input);
      response.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": `${Date.now()}` });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("SSM stand-in has no port");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
