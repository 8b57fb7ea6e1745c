import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTrustedKeys, verifyFolder } from "../../core/oms/index.js";

const OMS = join(import.meta.dirname, "../fixtures/oms");
const KEY = join(OMS, "keys/signing-key-pub.pem");

describe("bundles made by the Python model_signing tool verify", () => {
  it('v1.1.0: publicKey.hint, keyid "", ignore_paths recorded in the bundle', async () => {
    const keys = await loadTrustedKeys([KEY]);
    const manifest = await verifyFolder(join(OMS, "v1.1.0-elliptic-key"), keys);
    expect(manifest.resources.map((r) => r.name)).toEqual(["signme-1", "signme-2"]);
    expect(manifest.signer.hint).toBe("e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e");
    expect(manifest.signer.hash).toBe("sha384");
  });

  it("v1.0.1: legacy rawBytes key, keyid null, ignore-me given by the caller", async () => {
    const keys = await loadTrustedKeys([KEY]);
    const manifest = await verifyFolder(join(OMS, "v1.0.1-elliptic-key"), keys, { ignorePaths: ["ignore-me"] });
    expect(manifest.resources).toHaveLength(2);
  });

  it('v1.0.0: a single-file model whose resource is named "."', async () => {
    const keys = await loadTrustedKeys([KEY]);
    const manifest = await verifyFolder(join(OMS, "v1.0.0-elliptic-key/signme-1"), keys);
    expect(manifest.resources).toEqual([
      { name: ".", digest: "bc9a717db6064a32cbe9eae6fc40651dd6d36ef1757183f590eff2b1765d7ebc" },
    ]);
    expect(manifest.subjectName).toBe("signme-1");
  });

  it("the OMS spec's test vector, checked against the v1.1.0 files", async () => {
    const keys = await loadTrustedKeys([KEY]);
    const manifest = await verifyFolder(join(OMS, "v1.1.0-elliptic-key"), keys, {
      signaturePath: join(OMS, "spec-test-vector/key.bundle.json"),
      ignorePaths: ["model.sig"],
    });
    expect(manifest.subjectName).toBe("model");
  });

  it("without the caller's ignore path, the v1.0.1 folder has an unexpected file", async () => {
    const keys = await loadTrustedKeys([KEY]);
    await expect(verifyFolder(join(OMS, "v1.0.1-elliptic-key"), keys)).rejects.toMatchObject({
      code: "UNEXPECTED_FILE",
    });
  });
});
