/**
 * What can be checked of the deployment files without a Docker engine or a cluster: they parse, every
 * CUTOVER_* variable they set is one the code reads, ports and health paths match the code, images
 * and entry commands point at files that exist, and the Lambda role asks for nothing more than it uses.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, type Tags } from "yaml";
import { CONFIG_VARIABLES } from "../../core/config.js";
import { parseRedisUrl } from "../../core/redis/redis-url.js";

const ROOT = join(import.meta.dirname, "../..");
const KNOWN = new Set(CONFIG_VARIABLES.map((variable) => variable.name));
const CONTROLLER_PORT = 8700;
const NODE_PORT = 8080;
/** Paths the apps serve (checked against the code by the API tests). */
const HEALTH_PATHS = ["/healthz", "/v2/health/live", "/v2/health/ready"];

type Json = Record<string, unknown>;
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

/** Compose's `${NAME:-default}` interpolation, with the variables of `env` (the shell or an --env-file). */
function interpolate(value: unknown, env: Readonly<Record<string, string>>): string {
  return String(value).replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, fallback: string) => env[name] || fallback);
}

/** An env file's NAME=value lines. */
function envFile(path: string): Record<string, string> {
  return Object.fromEntries(
    read(path)
      .split("\n")
      .filter((line) => /^\w+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

function cutoverVariables(env: unknown): string[] {
  const names = Array.isArray(env)
    ? env.map((entry) => (entry as Json).name as string)
    : Object.keys((env as Json | undefined) ?? {});
  return names.filter((name) => name.startsWith("CUTOVER_"));
}

describe("docker-compose.yml", () => {
  const compose = parse(read("docker-compose.yml"), { merge: true }) as {
    services: Record<string, Json>;
    volumes: Json;
  };
  const services = compose.services;
  const svc = (name: string): Json => {
    const service = services[name];
    if (service === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
    return service;
  };

  it("has MinIO with a one-shot bucket creator, Redis, the controller, two CPU nodes and a GPU node in the gpu profile", () => {
    expect(Object.keys(services).sort()).toEqual([
      "controller",
      "createbucket",
      "minio",
      "node-1",
      "node-2",
      "node-gpu",
      "redis",
      "redis-replica",
      "sentinel-1",
      "sentinel-2",
      "sentinel-3",
    ]);
    expect(svc("node-gpu").profiles).toEqual(["gpu"]);
    const devices = ((svc("node-gpu").deploy as Json).resources as Json).reservations as { devices: Json[] };
    expect(devices.devices[0]).toMatchObject({ driver: "nvidia", capabilities: ["gpu"] });
    expect(String((svc("createbucket").entrypoint as string[]).join(" "))).toMatch(
      /mc mb --ignore-existing local\/models/,
    );
  });

  it("sets only variables the code reads, wired consistently (bucket, endpoint, Redis, ports)", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const variable of cutoverVariables(service.environment))
        expect(KNOWN, `${name}: ${variable}`).toContain(variable);
    }
    const controllerEnv = svc("controller").environment as Json;
    expect(controllerEnv.CUTOVER_PORT).toBe(String(CONTROLLER_PORT));
    expect(svc("controller").ports).toEqual([`${CONTROLLER_PORT}:${CONTROLLER_PORT}`]);
    for (const node of ["node-1", "node-2", "node-gpu"]) {
      const env = svc(node).environment as Json;
      expect(env).toMatchObject({
        CUTOVER_PORT: String(NODE_PORT),
        CUTOVER_REDIS_URL: controllerEnv.CUTOVER_REDIS_URL,
        CUTOVER_S3_BUCKET: controllerEnv.CUTOVER_S3_BUCKET,
        CUTOVER_S3_ENDPOINT: "http://minio:9000",
        CUTOVER_NODE_ID: node,
      });
      expect(svc(node).command).toEqual(["node"]);
      expect((svc(node).volumes as string[]).some((volume) => volume.endsWith(":/var/cache/cutover"))).toBe(true);
      expect((svc(node).ports as string[])[0]).toMatch(new RegExp(`:${NODE_PORT}$`));
    }
    expect(interpolate(controllerEnv.CUTOVER_REDIS_URL, {})).toBe("redis://redis:6379");
    const minioEnv = svc("minio").environment as Json;
    expect(controllerEnv.AWS_ACCESS_KEY_ID).toBe(minioEnv.MINIO_ROOT_USER);
  });

  it("the sentinel profile: a replica of redis and three sentinels watching it; its env file turns it on and points every service at them", () => {
    const profiled = Object.entries(services).filter(([, service]) =>
      (service.profiles as string[] | undefined)?.includes("sentinel"),
    );
    expect(profiled.map(([name]) => name).sort()).toEqual(["redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"]);
    expect((svc("redis-replica").command as string[]).join(" ")).toMatch(/--replicaof redis 6379/);
    // Without the env file nothing changes: no profile, the plain URL.
    expect(svc("redis").profiles).toBeUndefined();

    const conf = read("infra/compose/sentinel.conf");
    const monitor = /^sentinel monitor (\S+) redis 6379 2$/m.exec(conf);
    expect(monitor, "sentinel.conf monitors the redis service").not.toBeNull();
    const env = envFile("infra/compose/sentinel.env");
    expect(env.COMPOSE_PROFILES).toBe("sentinel");
    const url = interpolate((svc("controller").environment as Json).CUTOVER_REDIS_URL, env);
    const target = parseRedisUrl(url);
    if (target.kind !== "sentinel") throw new Error(`the sentinel env file's URL is ${target.kind}`);
    expect(target.masterName).toBe(monitor?.[1]);
    expect(target.sentinels.map(({ host }) => host).sort()).toEqual(["sentinel-1", "sentinel-2", "sentinel-3"]);
    expect(target.sentinels.every(({ port }) => port === 26379)).toBe(true);
    expect(conf).toMatch(/^port 26379$/m);
    for (const name of ["sentinel-1", "sentinel-2", "sentinel-3"]) {
      const sentinel = svc(name);
      expect(sentinel.environment).toEqual({ SENTINEL_NAME: name });
      for (const volume of sentinel.volumes as string[]) {
        expect(existsSync(join(ROOT, volume.split(":")[0] ?? "")), volume).toBe(true);
      }
      expect((sentinel.entrypoint as string[]).join(" ")).toMatch(/redis-server \/data\/sentinel\.conf --sentinel/);
    }
    for (const node of ["controller", "node-1", "node-2", "node-gpu"]) {
      expect(interpolate((svc(node).environment as Json).CUTOVER_REDIS_URL, env), node).toBe(url);
    }
  });

  it("health checks call paths the apps serve, on their ports; images are built from files that exist", () => {
    for (const name of ["controller", "node-1", "node-2", "node-gpu"]) {
      const check = ((svc(name).healthcheck as Json).test as string[]).join(" ");
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[\w/]+)/.exec(check);
      expect(HEALTH_PATHS, name).toContain(url?.[2]);
      expect(Number(url?.[1])).toBe(name === "controller" ? CONTROLLER_PORT : NODE_PORT);
      expect(existsSync(join(ROOT, (svc(name).build as Json).dockerfile as string)), name).toBe(true);
    }
  });
});

describe("the Dockerfiles", () => {
  it.each(["infra/Dockerfile", "infra/Dockerfile.gpu"])(
    "%s: non-root, its COPY sources exist, the entrypoint is the CLI launcher",
    (path) => {
      const text = read(path);
      expect(text).toMatch(/^USER (node|cutover)$/m);
      expect(text).toMatch(/^ENTRYPOINT \["node", "bin\/cutover\.js"\]$/m);
      expect(existsSync(join(ROOT, "bin/cutover.js"))).toBe(true);
      for (const [, source] of text.matchAll(/^COPY (?!--from)(\S+)/gm)) {
        for (const file of source === undefined ? [] : [source]) expect(existsSync(join(ROOT, file)), file).toBe(true);
      }
      expect(text).toMatch(/--ignore-scripts/);
    },
  );

  it("the CPU image is Node 24 slim and skips the CUDA download; the GPU image installs CUDA 12 support on CUDA 12 + cuDNN 9", () => {
    const cpu = read("infra/Dockerfile");
    expect([...cpu.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])).toEqual([
      "node:24-bookworm-slim",
      "node:24-bookworm-slim",
    ]);
    expect(cpu).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip/);
    expect(cpu).toMatch(/npm ci --omit=dev/);
    const gpu = read("infra/Dockerfile.gpu");
    expect(gpu).toMatch(/^FROM nvidia\/cuda:12\.[\d.]+-cudnn-runtime/m);
    expect(gpu).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install/);
    expect(gpu).toMatch(/CUTOVER_EXECUTION_PROVIDERS=cuda,cpu/);
  });
});

describe("the Kubernetes manifests", () => {
  const load = (path: string) => parseAllDocuments(read(path)).map((doc) => doc.toJS() as Json);
  const base = ["configmap.yaml", "secret.yaml", "controller.yaml", "inference.yaml", "pdb.yaml"].flatMap((file) =>
    load(`infra/k8s/base/${file}`),
  );
  const gpu = load("infra/k8s/gpu/inference-gpu.yaml");
  const byKind = (docs: Json[], kind: string) => docs.filter((doc) => doc.kind === kind);
  const podSpec = (deployment: Json) => ((deployment.spec as Json).template as Json).spec as Json;
  const containers = (deployment: Json) => podSpec(deployment).containers as Json[];

  it("every resource the kustomizations name exists", () => {
    for (const dir of ["infra/k8s/base", "infra/k8s/gpu"]) {
      const { resources } = parse(read(`${dir}/kustomization.yaml`)) as { resources: string[] };
      for (const resource of resources) expect(existsSync(join(ROOT, dir, resource)), `${dir}/${resource}`).toBe(true);
    }
  });

  it("sets and configures only variables the code reads", () => {
    const configMap = byKind(base, "ConfigMap")[0] as Json;
    for (const key of Object.keys(configMap.data as Json)) expect(KNOWN, key).toContain(key);
    for (const secret of byKind(base, "Secret")) {
      for (const key of Object.keys(secret.stringData as Json).filter((k) => k.startsWith("CUTOVER_")))
        expect(KNOWN).toContain(key);
    }
    for (const deployment of [...byKind(base, "Deployment"), ...byKind(gpu, "Deployment")]) {
      for (const variable of cutoverVariables(containers(deployment)[0]?.env))
        expect(KNOWN, variable).toContain(variable);
    }
  });

  it("nodes: readiness /v2/health/ready, liveness /v2/health/live, a grace period that covers the 10 s drain, resources", () => {
    for (const deployment of [
      byKind(base, "Deployment").find((d) => (d.metadata as Json).name === "cutover-inference"),
      ...byKind(gpu, "Deployment"),
    ]) {
      const node = containers(deployment as Json)[0] as Json;
      expect(((node.readinessProbe as Json).httpGet as Json).path).toBe("/v2/health/ready");
      expect(((node.livenessProbe as Json).httpGet as Json).path).toBe("/v2/health/live");
      expect((node.ports as Json[])[0]).toMatchObject({ containerPort: NODE_PORT });
      expect(podSpec(deployment as Json).terminationGracePeriodSeconds).toBeGreaterThan(10 + 5);
      expect((node.resources as Json).requests).toBeDefined();
      expect(node.args).toEqual(["node"]);
    }
    const gpuNode = containers(gpu[0] as Json)[0] as Json;
    expect(((gpuNode.resources as Json).limits as Json)["nvidia.com/gpu"]).toBe(1);
  });

  it("the controller probes /healthz on its port; Services and the PodDisruptionBudget select the pods they mean", () => {
    const controller = byKind(base, "Deployment").find(
      (d) => (d.metadata as Json).name === "cutover-controller",
    ) as Json;
    const container = containers(controller)[0] as Json;
    expect(((container.readinessProbe as Json).httpGet as Json).path).toBe("/healthz");
    expect((container.ports as Json[])[0]).toMatchObject({ containerPort: CONTROLLER_PORT });
    const labelsOf = (name: string): Json => {
      const deployment = byKind(base, "Deployment").find((d) => (d.metadata as Json).name === name);
      if (deployment === undefined) throw new Error(`no Deployment ${name}`);
      return (((deployment.spec as Json).template as Json).metadata as Json).labels as Json;
    };
    for (const service of byKind(base, "Service")) {
      const target = (service.metadata as Json).name as string;
      expect(labelsOf(target)).toMatchObject((service.spec as Json).selector as Json);
    }
    const pdb = byKind(base, "PodDisruptionBudget")[0] as Json;
    expect(labelsOf("cutover-inference")).toMatchObject(((pdb.spec as Json).selector as Json).matchLabels as Json);
    expect((pdb.spec as Json).maxUnavailable).toBe(1);
  });
});

describe("the Lambda template", () => {
  // CloudFormation's short intrinsic functions (!Ref, !Sub) as plain values, for reading.
  const customTags: Tags = ["!Ref", "!Sub", "!GetAtt"].flatMap((tag) => [
    { tag, resolve: (value: string) => ({ [tag]: value }) },
    { tag, collection: "seq" as const, resolve: (value: unknown) => ({ [tag]: value }) },
  ]);
  const template = parse(read("infra/lambda/template.yaml"), { customTags }) as { Resources: Record<string, Json> };
  const fn = template.Resources.ControllerFunction?.Properties as Json;

  it("runs the Lambda entry the build produces, with SSM as the pointer store", () => {
    const [file, exported] = String(fn.Handler).split(/\.(?=[^.]+$)/);
    expect(file).toBe("dist/controller/lambda");
    expect(existsSync(join(ROOT, "controller/lambda.ts"))).toBe(true);
    expect(read("controller/lambda.ts")).toMatch(new RegExp(`export const ${exported} =`));
    const variables = (fn.Environment as Json).Variables as Json;
    for (const variable of Object.keys(variables)) expect(KNOWN, variable).toContain(variable);
    expect(variables.CUTOVER_STATE).toBe("ssm");
  });

  it("is invoked by the HTTP API and by a schedule that runs the reconcile tick the handler recognises", () => {
    const events = fn.Events as Record<string, Json>;
    expect((events.Api as Json).Type).toBe("HttpApi");
    const schedule = events.Reconcile as Json;
    expect(schedule.Type).toBe("Schedule");
    expect((schedule.Properties as Json).Schedule).toMatch(/^rate\(1 minute\)$/);
    expect(read("controller/lambda.ts")).toMatch(/"Scheduled Event"/);
  });

  it("asks for S3 read, SSM get/put on its path, and nothing else", () => {
    const [statements, ...managed] = fn.Policies as [Json, ...unknown[]];
    expect(managed).toEqual(["AWSLambdaVPCAccessExecutionRole"]);
    const actions = (statements.Statement as Json[]).flatMap((statement) => statement.Action as string[]);
    expect(actions.sort()).toEqual(["s3:GetObject", "s3:ListBucket", "ssm:GetParameter", "ssm:PutParameter"]);
    const ssm = (statements.Statement as Json[]).find((statement) => statement.Sid === "ActivePointers") as Json;
    expect(JSON.stringify(ssm.Resource)).toMatch(/parameter\$\{ParameterPath\}\/\*/);
  });
});
