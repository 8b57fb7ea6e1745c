/**
 * Signing and trusted keys for OMS bundles (the private-key method). A key is identified by its
 * hint: the hex SHA-256 of its canonical SPKI PEM, as the Python `model_signing` tool computes it.
 * The hash used with a key follows its curve (P-256 → SHA-256, P-384 → SHA-384, P-521 → SHA-512).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, errorMessage } from "../errors.js";

export type CurveHash = "sha256" | "sha384" | "sha512";

const CURVE_HASH: Readonly<Record<string, CurveHash>> = {
  prime256v1: "sha256",
  secp384r1: "sha384",
  secp521r1: "sha512",
};

/** A public key cutover will accept signatures from. */
export interface TrustedKey {
  readonly key: KeyObject;
  readonly hint: string;
  readonly hash: CurveHash;
  /** Where it came from (a file path), for messages. */
  readonly source: string;
}

/** A private key with what signing needs to know about it. */
export interface SigningKey {
  readonly key: KeyObject;
  readonly publicKey: KeyObject;
  readonly hint: string;
  readonly hash: CurveHash;
}

/** The canonical SPKI PEM of a public key; its SHA-256 is the key's hint. */
export function canonicalPublicPem(key: KeyObject): string {
  return key.export({ type: "spki", format: "pem" }).toString();
}

export function keyHint(publicKey: KeyObject): string {
  return createHash("sha256").update(canonicalPublicPem(publicKey)).digest("hex");
}

/** The hash an EC key's curve implies, or undefined for any other key. */
export function curveHash(key: KeyObject): CurveHash | undefined {
  if (key.asymmetricKeyType !== "ec") return undefined;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === undefined ? undefined : CURVE_HASH[curve];
}

function requireCurveHash(key: KeyObject, source: string): CurveHash {
  const hash = curveHash(key);
  if (hash === undefined) {
    const kind =
      key.asymmetricKeyType === "ec" ? `EC curve ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType;
    throw new ConfigError(`${source}: unsupported key type ${kind}; use an ECDSA P-256, P-384 or P-521 key`);
  }
  return hash;
}

/** Builds a trusted key from PEM text (leading human-readable text is allowed, as GnuTLS writes it). */
export function trustedKeyFromPem(pem: string | Buffer, source: string): TrustedKey {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new ConfigError(`${source}: not a PEM public key (${errorMessage(error)})`, { cause: error });
  }
  return { key, hint: keyHint(key), hash: requireCurveHash(key, source), source };
}

/** Reads a private key file (PKCS#8 or SEC1 PEM). */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (error) {
    throw new ConfigError(`signing key ${path}: ${errorMessage(error)}`, { cause: error });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new ConfigError(`signing key ${path}: not a PEM private key (${errorMessage(error)})`, { cause: error });
  }
  const publicKey = createPublicKey(key);
  return { key, publicKey, hint: keyHint(publicKey), hash: requireCurveHash(key, `signing key ${path}`) };
}

const KEY_FILE_RE = /\.(pem|pub)$/i;

/**
 * Loads trusted public keys from files and folders (every `*.pem` / `*.pub` inside a folder, not
 * recursive). Several keys at once allow rotation. Fails when nothing is found.
 */
export async function loadTrustedKeys(paths: readonly string[]): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: unknown) => {
      throw new ConfigError(`trusted key ${path}: ${errorMessage(error)}`, { cause: error });
    });
    const files = info.isDirectory()
      ? (await readdir(path))
          .filter((name) => KEY_FILE_RE.test(name))
          .sort()
          .map((name) => join(path, name))
      : [path];
    for (const file of files) keys.push(trustedKeyFromPem(await readFile(file), file));
  }
  if (keys.length === 0) {
    throw new ConfigError(`no trusted keys found in ${paths.join(", ") || "(no paths given)"}`);
  }
  return keys;
}

/** A new P-256 key pair as PEM text: PKCS#8 private, SPKI public. */
export function generateSigningKeyPair(): { privatePem: string; publicPem: string; hint: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: canonicalPublicPem(publicKey),
    hint: keyHint(publicKey),
  };
}
