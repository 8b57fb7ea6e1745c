/**
 * Signing: a folder's manifest becomes an in-toto Statement with the OMS v1.0 predicate, wrapped
 * in a DSSE envelope signed with ECDSA (the hash follows the key's curve), in a Sigstore bundle.
 */
import { sign } from "node:crypto";
import { sha256Hex } from "../digest.js";
import { type Bundle, buildBundle, PAYLOAD_TYPE, PREDICATE_TYPE, preAuthEncoding, STATEMENT_TYPE } from "./bundle.js";
import type { SigningKey } from "./keys.js";
import { type ManifestEntry, manifestOfFolder } from "./manifest.js";

/** The file name of the signature inside a model version; OMS tools use the same default. */
export const SIGNATURE_FILE = "model.sig";

/** SHA-256 over the concatenated raw resource digests, in listed order: the statement's subject. */
export function subjectDigest(resources: readonly ManifestEntry[]): string {
  return sha256Hex(Buffer.concat(resources.map((entry) => Buffer.from(entry.digest, "hex"))));
}

/** The in-toto Statement v1 for a manifest, as OMS v1.0 lays it out. */
export function createStatement(
  resources: readonly ManifestEntry[],
  options: { subjectName: string; ignorePaths: readonly string[] },
): Record<string, unknown> {
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: options.subjectName, digest: { sha256: subjectDigest(resources) } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      serialization: {
        method: "files",
        hash_type: "sha256",
        allow_symlinks: false,
        ignore_paths: [...options.ignorePaths],
      },
      resources: resources.map((entry) => ({ name: entry.name, algorithm: "sha256", digest: entry.digest })),
    },
  };
}

/** Signs any statement object; exported so tests can sign deliberately broken statements. */
export function signStatement(statement: unknown, key: SigningKey): Bundle {
  const payload = Buffer.from(JSON.stringify(statement), "utf8");
  const signature = sign(key.hash, preAuthEncoding(PAYLOAD_TYPE, payload), { key: key.key, dsaEncoding: "der" });
  return buildBundle({ payload, signature, hint: key.hint });
}

export function serializeBundle(bundle: Bundle): string {
  return `${JSON.stringify(bundle)}\n`;
}

/**
 * Signs every file of a folder except the signature file and `ignorePaths`. Returns the bundle and
 * the manifest it lists (sorted by name).
 */
export async function signFolder(
  root: string,
  key: SigningKey,
  options: { subjectName: string; ignorePaths?: readonly string[] },
): Promise<{ bundle: Bundle; manifest: ManifestEntry[] }> {
  const ignorePaths = [SIGNATURE_FILE, ...(options.ignorePaths ?? []).filter((path) => path !== SIGNATURE_FILE)];
  const manifest = await manifestOfFolder(root, ignorePaths);
  const bundle = signStatement(createStatement(manifest, { subjectName: options.subjectName, ignorePaths }), key);
  return { bundle, manifest };
}
