/**
 * Property-based fuzzing of everything that parses input from outside: OIP infer requests, signature
 * bundles (random and mutated), bus messages and the controller's request bodies. The property is
 * always the same: a typed error (or a 4xx), never a crash, never a hang. A bounded number of runs
 * here; `FUZZ_RUNS=20000 npx vitest run tests/unit/fuzz.test.ts` for a longer session.
 */
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { assembleController, type Controller, controllerCredentials } from "../../controller/controller.js";
import { pushVersion } from "../../controller/publisher.js";
import { MemoryRolloutStore } from "../../controller/state/memory-rollout-store.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { CutoverError } from "../../core/errors.js";
import { MemoryBus } from "../../core/memory/memory-bus.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import { parseCommand, parseReport } from "../../core/messages.js";
import type { TensorSpec } from "../../core/model-card.js";
import { keyHint, type SigningKey, trustedKeyFromPem } from "../../core/oms/keys.js";
import { createStatement, serializeBundle, signStatement } from "../../core/oms/signer.js";
import { verifyBundle } from "../../core/oms/verifier.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore } from "../../core/store/index.js";
import { decodeInferRequest, inferRequestSchema, isPlainInferRequest } from "../../core/tensor-codec.js";
import { DEMO } from "../support/registry-contract.js";
import { tempDir } from "../support/temp-dir.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

/** Runs `work`; passes if it returns or throws a CutoverError, fails on any other throw. */
function onlyTypedErrors(work: () => unknown): void {
  try {
    work();
  } catch (error) {
    if (!(error instanceof CutoverError)) throw error;
  }
}

const INPUTS: TensorSpec[] = [
  { name: "features", datatype: "FP32", shape: ["batch", 4] },
  { name: "ids", datatype: "INT64", shape: [-1] },
  { name: "text", datatype: "BYTES", shape: [1] },
];

const datatypes = fc.constantFrom(
  "BOOL",
  "UINT8",
  "INT8",
  "INT32",
  "INT64",
  "UINT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
  "BF16",
  "FP8",
  "",
);
const tensorish = fc.record(
  {
    name: fc.oneof(fc.constantFrom("features", "ids", "text"), fc.string()),
    shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 4 }), fc.anything()),
    datatype: fc.oneof(datatypes, fc.anything()),
    data: fc.oneof(
      fc.array(fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.string(), fc.constant(null)), { maxLength: 32 }),
      fc.array(fc.array(fc.double(), { maxLength: 5 }), { maxLength: 5 }),
      fc.anything(),
    ),
  },
  { requiredKeys: [] },
);

describe("fuzz: the OIP infer request parser", () => {
  it("structured garbage → an InputError or feeds, never anything else", () => {
    fc.assert(
      fc.property(
        fc.record(
          { inputs: fc.oneof(fc.array(tensorish, { maxLength: 4 }), fc.anything()), outputs: fc.anything() },
          { requiredKeys: [] },
        ),
        (body) => {
          onlyTypedErrors(() => decodeInferRequest(body, INPUTS));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("any JSON value at all", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (body) => onlyTypedErrors(() => decodeInferRequest(body, INPUTS))),
      { numRuns: RUNS },
    );
  });

  it("the hand-written fast check accepts nothing the schema rejects, and accepts the common request", () => {
    // Mostly well-formed, each field sometimes replaced by a near miss, so both branches are exercised.
    const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
      fc.oneof({ weight: 5, arbitrary: good }, { weight: 1, arbitrary: bad });
    const nearMiss = fc.constantFrom(null, [], {}, "", 0, -1, 1.5, Number.NaN, "3", true);
    const parameters = mostly(fc.constant(undefined), mostly(fc.constant({ a: 1 }), nearMiss));
    const tensor = fc.record(
      {
        name: mostly(fc.constantFrom("features", "x"), nearMiss),
        shape: mostly(fc.array(mostly(fc.integer({ min: 0, max: 6 }), nearMiss), { maxLength: 4 }), nearMiss),
        datatype: mostly(fc.constantFrom("FP32", "INT64", "BF16"), nearMiss),
        data: mostly(fc.array(fc.double(), { maxLength: 4 }), nearMiss),
        parameters,
      },
      { requiredKeys: ["name", "shape", "datatype", "data"] },
    );
    const request = fc.record(
      {
        id: mostly(fc.constant(undefined), mostly(fc.string(), nearMiss)),
        parameters,
        inputs: mostly(fc.array(tensor, { maxLength: 3 }), nearMiss),
        outputs: mostly(
          fc.constant(undefined),
          mostly(fc.array(fc.record({ name: mostly(fc.string(), nearMiss), parameters }), { maxLength: 2 }), nearMiss),
        ),
      },
      { requiredKeys: ["inputs"] },
    );
    let accepted = 0;
    fc.assert(
      fc.property(request, (body) => {
        if (!isPlainInferRequest(body)) return;
        accepted++;
        expect(inferRequestSchema.safeParse(body).success).toBe(true);
      }),
      { numRuns: RUNS * 4 },
    );
    expect(accepted).toBeGreaterThan(RUNS / 10);
    expect(
      isPlainInferRequest({
        id: "r1",
        inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4] }],
        outputs: [{ name: "probabilities" }],
      }),
    ).toBe(true);
  });
});

describe("fuzz: infer data against the shape and the datatype's range", () => {
  /** `value` inside `depth` arrays, built without recursion (as deep as a 16 MiB body allows). */
  const nestedIn = (depth: number, value: unknown): unknown => {
    let nested = value;
    for (let i = 0; i < depth; i++) nested = [nested];
    return nested;
  };
  const awkwardNumber = fc.constantFrom(
    1e39,
    -1e39,
    3.4028235677973366e38,
    65_520,
    2 ** 53,
    2 ** 64,
    -(2 ** 63),
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.NaN,
    -0,
  );
  const number = fc.oneof(fc.double(), fc.integer(), awkwardNumber);
  const scalar = fc.oneof(
    number,
    fc.string(),
    fc.string().map((text) => `${text}\u0000${text}`),
    fc.boolean(),
  );
  /** Data of any nesting: flat, ragged, exact, too deep (up to 20,000 levels), or mixed. */
  const data = fc.oneof(
    fc.array(scalar, { maxLength: 12 }),
    fc.array(fc.array(number, { maxLength: 5 }), { maxLength: 4 }),
    fc.array(fc.oneof(number, fc.array(number, { maxLength: 4 })), { maxLength: 8 }),
    fc.tuple(fc.integer({ min: 1, max: 20_000 }), scalar).map(([depth, value]) => [nestedIn(depth, value)]),
    fc
      .tuple(fc.array(number, { maxLength: 4 }), fc.integer({ min: 1, max: 40 }))
      .map(([values, depth]) => values.map((value) => nestedIn(depth, value))),
  );
  const shape = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 });
  // Names and datatypes the model declares, so every body reaches the data checks.
  const body = fc.record({
    inputs: fc.tuple(
      fc.record({ name: fc.constant("features"), shape, datatype: fc.constant("FP32"), data }),
      fc.record({ name: fc.constant("ids"), shape, datatype: fc.constant("INT64"), data }),
      fc.record({ name: fc.constant("text"), shape, datatype: fc.constant("BYTES"), data }),
    ),
  });

  it("nested, ragged, 20,000-deep and out-of-range data → an InputError (a 400) or feeds, never anything else", () => {
    fc.assert(
      fc.property(body, (request) => onlyTypedErrors(() => decodeInferRequest(request, INPUTS))),
      { numRuns: RUNS },
    );
  });

  it("data nested exactly as the shape, with values in range, is accepted and read in row-major order", () => {
    const spec: TensorSpec[] = [{ name: "t", datatype: "FP32", shape: [-1, -1, -1] }];
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 3 })),
        fc.boolean(),
        ([a, b, c], nested) => {
          const flat = Array.from({ length: a * b * c }, (_, i) => i - 7.5);
          const rows = Array.from({ length: a }, (_, i) =>
            Array.from({ length: b }, (_, j) => flat.slice((i * b + j) * c, (i * b + j + 1) * c)),
          );
          const { feeds } = decodeInferRequest(
            { inputs: [{ name: "t", shape: [a, b, c], datatype: "FP32", data: nested ? rows : flat }] },
            spec,
          );
          expect(Array.from(feeds.t?.data as Float32Array)).toEqual(flat);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("fuzz: the bundle verifier", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const signer: SigningKey = { key: privateKey, publicKey, hint: keyHint(publicKey), hash: "sha256" };
  const trusted = [trustedKeyFromPem(publicKey.export({ type: "spki", format: "pem" }), "fuzz key")];
  const valid = serializeBundle(
    signStatement(
      createStatement([{ name: "model.onnx", digest: "a".repeat(64) }], {
        subjectName: "m",
        ignorePaths: ["model.sig"],
      }),
      signer,
    ),
  );

  it("the valid bundle verifies (so the mutations below start from something real)", () => {
    expect(verifyBundle(valid, trusted).resources).toHaveLength(1);
  });

  it("random bytes → a VerificationError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(() => verifyBundle(bytes, trusted)).toThrow(CutoverError);
      }),
      { numRuns: RUNS },
    );
  });

  it("mutated bundles (a character replaced, deleted or inserted) → typed errors or a still-valid bundle", () => {
    const alphabet = fc.constantFrom(...'{}[]",:0123456789abcdefABCDEF+/=nulltrue ');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.constantFrom("replace", "delete", "insert"), alphabet), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          let text = valid;
          for (const [at, kind, char] of edits) {
            const i = at % text.length;
            text =
              kind === "delete"
                ? text.slice(0, i) + text.slice(i + 1)
                : kind === "insert"
                  ? text.slice(0, i) + char + text.slice(i)
                  : text.slice(0, i) + char + text.slice(i + 1);
          }
          onlyTypedErrors(() => verifyBundle(text, trusted));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("well-formed JSON of the wrong shape → a VerificationError", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        expect(() => verifyBundle(JSON.stringify(json), trusted)).toThrow(CutoverError);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("fuzz: the bus message parsers", () => {
  const message = fc.record(
    {
      type: fc.oneof(fc.constantFrom("prepare", "promote", "abort", "staged", "failed", "promoted"), fc.string()),
      model: fc.oneof(fc.constant("demo"), fc.string()),
      version: fc.oneof(fc.constant("v1"), fc.string()),
      rolloutId: fc.oneof(
        fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 1, maxLength: 16 }),
        fc.anything(),
      ),
      revision: fc.oneof(fc.nat(), fc.double(), fc.anything()),
      nodeId: fc.oneof(fc.constant("n1"), fc.string()),
      at: fc.anything(),
      reason: fc.anything(),
    },
    { requiredKeys: [] },
  );
  it("structured and raw garbage → an InputError or a parsed message, never anything else", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          message.map((m) => JSON.stringify(m)),
          fc.string(),
        ),
        (raw) => {
          onlyTypedErrors(() => parseCommand(raw));
          onlyTypedErrors(() => parseReport(raw));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("fuzz: the controller's API bodies", () => {
  let controller: Controller;
  const token = "fuzz-token-0123456789";

  beforeAll(async () => {
    const { path } = await tempDir();
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(path, "k.pub"), publicKey.export({ type: "spki", format: "pem" }));
    const registry = new ModelRegistry(new FolderStore(join(path, "store")), new ArtifactLayout());
    const signer: SigningKey = { key: privateKey, publicKey, hint: keyHint(publicKey), hash: "sha256" };
    for (const version of ["v1", "v2"])
      await pushVersion(registry, { path: join(DEMO, version), model: "demo", version, signingKey: signer });
    const fleet = new MemoryFleetState();
    const { tokens, trustedKeys } = await controllerCredentials({
      tokens: `fuzz:${token}`,
      trustedKeyPaths: [join(path, "k.pub")],
    });
    controller = assembleController(
      {
        fleet,
        transitions: new MemoryRolloutStore(fleet),
        bus: new MemoryBus(),
        registry,
        trustedKeys,
        tokens,
        lockTtlMs: 30_000,
        close: async () => undefined,
      },
      { confirmTimeoutMs: 100 },
    );
  });

  it("arbitrary bodies to activate and rollback → 2xx or 4xx, never 5xx", async () => {
    const body = fc.oneof(
      fc
        .record(
          {
            version: fc.oneof(fc.constantFrom("v1", "v2", "v9", "../x", ""), fc.string(), fc.anything()),
            to: fc.oneof(fc.constantFrom("v1", "v2"), fc.anything()),
            expectRevision: fc.oneof(fc.nat(5), fc.anything()),
            allowIncompatible: fc.anything(),
            timeoutMs: fc.oneof(fc.integer({ min: -10, max: 500 }), fc.anything()),
            allowNoNodes: fc.oneof(fc.boolean(), fc.anything()),
            minNodes: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.anything()),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
      fc.string(),
    );
    const model = fc.oneof(
      fc.constant("demo"),
      fc.constant("Bad..Name"),
      fc.string().filter((s) => !s.includes("/") && !s.includes("?") && !s.includes("#")),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("activate", "rollback"), model, body, async (action, name, payload) => {
        const response = await controller.app.request(`/v1/models/${encodeURIComponent(name)}/${action}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: payload,
        });
        expect(response.status, `${action} ${name} ${payload} → ${await response.clone().text()}`).toBeLessThan(500);
      }),
      { numRuns: Math.min(RUNS, 200) },
    );
  });
});
