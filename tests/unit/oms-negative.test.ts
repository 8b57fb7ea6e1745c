import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Bundle,
  createStatement,
  loadTrustedKeys,
  manifestOfFolder,
  SIGNATURE_FILE,
  serializeBundle,
  signFolder,
  signStatement,
  verifyBundle,
  verifyFolder,
} from "../../core/oms/index.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

let dir: string;
let cleanup: () => Promise<void>;
const owner = testKeyPair();

async function writeModel(root: string): Promise<void> {
  await mkdir(join(root, "tokenizer"), { recursive: true });
  await writeFile(join(root, "model.onnx"), Buffer.from([8, 1, 18, 4, 1, 2, 3, 4]));
  await writeFile(join(root, "labels.txt"), "cat\ndog\n");
  await writeFile(join(root, "tokenizer/vocab.json"), '{"a":1}');
}

async function signModel(root: string): Promise<Bundle> {
  const { bundle } = await signFolder(root, owner.signer, { subjectName: "demo" });
  await writeFile(join(root, SIGNATURE_FILE), serializeBundle(bundle));
  return bundle;
}

/** Signs a statement built from the folder, after `change` has had its way with it. */
async function signAltered(change: (statement: Record<string, unknown>) => void): Promise<string> {
  const manifest = await manifestOfFolder(dir, [SIGNATURE_FILE]);
  const statement = createStatement(manifest, { subjectName: "demo", ignorePaths: [SIGNATURE_FILE] });
  change(statement);
  return serializeBundle(signStatement(statement, owner.signer));
}

function withPayload(bundle: Bundle, edit: (json: Record<string, unknown>) => void): string {
  const copy = structuredClone(bundle) as unknown as Record<string, Record<string, unknown>>;
  edit(copy as unknown as Record<string, unknown>);
  return JSON.stringify(copy);
}

beforeEach(async () => {
  ({ path: dir, cleanup } = await tempDir());
  await writeModel(dir);
});
afterEach(() => cleanup());

describe("a folder signed by cutover", () => {
  it("verifies with the signer's public key, listing every file but the signature", async () => {
    await signModel(dir);
    const manifest = await verifyFolder(dir, [owner.trusted]);
    expect(manifest.resources.map((r) => r.name)).toEqual(["labels.txt", "model.onnx", "tokenizer/vocab.json"]);
    expect(manifest.ignorePaths).toEqual([SIGNATURE_FILE]);
    expect(manifest.signer.hint).toBe(owner.signer.hint);
  });

  it("verifies when the trusted set holds several keys (rotation), by hint or by trying each", async () => {
    const bundle = await signModel(dir);
    const other = testKeyPair();
    await expect(verifyFolder(dir, [other.trusted, owner.trusted])).resolves.toMatchObject({
      signer: { hint: owner.signer.hint },
    });
    const noHint = withPayload(bundle, (json) => {
      (json.verificationMaterial as Record<string, unknown>).publicKey = {};
    });
    expect(verifyBundle(noHint, [other.trusted, owner.trusted]).signer.hint).toBe(owner.signer.hint);
  });

  it("accepts keyid absent and the legacy publicKey.rawBytes form", async () => {
    const bundle = await signModel(dir);
    const legacy = withPayload(bundle, (json) => {
      (json.verificationMaterial as Record<string, unknown>).publicKey = {
        rawBytes: Buffer.from(owner.publicPem).toString("base64"),
      };
      const envelope = json.dsseEnvelope as { signatures: Record<string, unknown>[] };
      for (const signature of envelope.signatures) delete signature.keyid;
    });
    expect(verifyBundle(legacy, [owner.trusted]).resources).toHaveLength(3);
  });

  it("P-384 and P-521 keys verify with SHA-384 and SHA-512", async () => {
    for (const curve of ["secp384r1", "secp521r1"] as const) {
      const pair = testKeyPair(curve);
      const { bundle } = await signFolder(dir, pair.signer, { subjectName: "demo" });
      expect(verifyBundle(JSON.stringify(bundle), [pair.trusted]).signer.hash).toBe(pair.signer.hash);
    }
  });
});

describe("each tampering is rejected with its own code", () => {
  it("a changed byte in a file → DIGEST_MISMATCH", async () => {
    await signModel(dir);
    const bytes = await readFile(join(dir, "model.onnx"));
    bytes[3] = (bytes[3] ?? 0) ^ 0x01;
    await writeFile(join(dir, "model.onnx"), bytes);
    await expect(verifyFolder(dir, [owner.trusted])).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
  });

  it("an extra file → UNEXPECTED_FILE", async () => {
    await signModel(dir);
    await writeFile(join(dir, "extra.bin"), "x");
    await expect(verifyFolder(dir, [owner.trusted])).rejects.toMatchObject({ code: "UNEXPECTED_FILE" });
  });

  it("a missing file → MISSING_FILE", async () => {
    await signModel(dir);
    const { rm } = await import("node:fs/promises");
    await rm(join(dir, "tokenizer/vocab.json"));
    await expect(verifyFolder(dir, [owner.trusted])).rejects.toMatchObject({ code: "MISSING_FILE" });
  });

  it("the wrong key → UNTRUSTED_KEY", async () => {
    await signModel(dir);
    await expect(verifyFolder(dir, [testKeyPair().trusted])).rejects.toMatchObject({ code: "UNTRUSTED_KEY" });
  });

  it("a signature that is not the key's → SIGNATURE_INVALID", async () => {
    const bundle = await signModel(dir);
    const forged = withPayload(bundle, (json) => {
      const envelope = json.dsseEnvelope as { signatures: { sig: string }[] };
      const other = signStatement({ other: true }, owner.signer).dsseEnvelope.signatures[0];
      if (envelope.signatures[0] && other) envelope.signatures[0].sig = other.sig;
    });
    expect(() => verifyBundle(forged, [owner.trusted])).toThrow(expect.objectContaining({ code: "SIGNATURE_INVALID" }));
  });

  it("a P-384 bundle signed with SHA-256 → SIGNATURE_INVALID (the trusted key's curve picks SHA-384)", async () => {
    const pair = testKeyPair("secp384r1");
    const { bundle } = await signFolder(dir, { ...pair.signer, hash: "sha256" }, { subjectName: "demo" });
    expect(() => verifyBundle(JSON.stringify(bundle), [pair.trusted])).toThrow(
      expect.objectContaining({ code: "SIGNATURE_INVALID" }),
    );
  });

  it("wrong mediaType or payloadType → BUNDLE_UNSUPPORTED", async () => {
    const bundle = await signModel(dir);
    const media = withPayload(bundle, (json) => {
      json.mediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1";
    });
    const payloadType = withPayload(bundle, (json) => {
      (json.dsseEnvelope as Record<string, unknown>).payloadType = "application/json";
    });
    for (const bad of [media, payloadType]) {
      expect(() => verifyBundle(bad, [owner.trusted])).toThrow(expect.objectContaining({ code: "BUNDLE_UNSUPPORTED" }));
    }
  });

  it("wrong predicateType, even correctly signed → BUNDLE_UNSUPPORTED", async () => {
    const bad = await signAltered((statement) => {
      statement.predicateType = "https://slsa.dev/provenance/v1";
    });
    expect(() => verifyBundle(bad, [owner.trusted])).toThrow(expect.objectContaining({ code: "BUNDLE_UNSUPPORTED" }));
  });

  it("malformed JSON or base64 → BUNDLE_INVALID", async () => {
    const bundle = await signModel(dir);
    const badPayload = withPayload(bundle, (json) => {
      (json.dsseEnvelope as Record<string, unknown>).payload = "not base64!!";
    });
    const badSig = withPayload(bundle, (json) => {
      (json.dsseEnvelope as { signatures: { sig: string }[] }).signatures = [{ sig: "%%%" }];
    });
    for (const bad of ['{"mediaType":', "", "[]", badPayload, badSig]) {
      expect(() => verifyBundle(bad, [owner.trusted])).toThrow(expect.objectContaining({ code: "BUNDLE_INVALID" }));
    }
  });

  it("a signed payload that is not an in-toto statement → BUNDLE_INVALID", () => {
    const notStatement = serializeBundle(signStatement(["not", "a", "statement"], owner.signer));
    expect(() => verifyBundle(notStatement, [owner.trusted])).toThrow(
      expect.objectContaining({ code: "BUNDLE_INVALID" }),
    );
  });

  it("a subject digest that does not match the resources → SUBJECT_MISMATCH", async () => {
    const bad = await signAltered((statement) => {
      const [subject] = statement.subject as { digest: { sha256: string } }[];
      if (subject) subject.digest.sha256 = "0".repeat(64);
    });
    expect(() => verifyBundle(bad, [owner.trusted])).toThrow(expect.objectContaining({ code: "SUBJECT_MISMATCH" }));
  });

  it.each(["../x", "/etc/passwd", "a/../../x", "a//b", "./a", "a\\..\\b"])(
    "a resource named %j → UNSAFE_PATH",
    async (name) => {
      const bad = await signAltered((statement) => {
        const predicate = statement.predicate as { resources: { name: string }[] };
        if (predicate.resources[0]) predicate.resources[0].name = name;
      });
      expect(() => verifyBundle(bad, [owner.trusted])).toThrow(expect.objectContaining({ code: "UNSAFE_PATH" }));
    },
  );

  it("a symlink in the folder → UNSAFE_PATH", async () => {
    await signModel(dir);
    await symlink("/etc/hostname", join(dir, "link"));
    await expect(verifyFolder(dir, [owner.trusted])).rejects.toMatchObject({ code: "UNSAFE_PATH" });
  });
});

describe("the conformance bundles, tampered", () => {
  const OMS = join(import.meta.dirname, "../fixtures/oms");

  it("a changed byte in a model_signing folder → DIGEST_MISMATCH", async () => {
    const copy = join(dir, "copy");
    await cp(join(OMS, "v1.1.0-elliptic-key"), copy, { recursive: true });
    const keys = await loadTrustedKeys([join(OMS, "keys/signing-key-pub.pem")]);
    await expect(verifyFolder(copy, keys)).resolves.toBeDefined();
    await writeFile(join(copy, "signme-1"), "signme-X\n");
    await expect(verifyFolder(copy, keys)).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
  });
});
