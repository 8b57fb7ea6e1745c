import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { keyHint, type SigningKey, type TrustedKey, trustedKeyFromPem } from "../../core/oms/keys.js";

export type Curve = "prime256v1" | "secp384r1" | "secp521r1";

const HASH: Record<Curve, SigningKey["hash"]> = { prime256v1: "sha256", secp384r1: "sha384", secp521r1: "sha512" };

/** A fresh key pair as the signer and the matching trusted key. */
export function testKeyPair(curve: Curve = "prime256v1"): {
  signer: SigningKey;
  trusted: TrustedKey;
  publicPem: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
  const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return {
    signer: { key: privateKey, publicKey: createPublicKey(privateKey), hint: keyHint(publicKey), hash: HASH[curve] },
    trusted: trustedKeyFromPem(publicPem, `test ${curve} key`),
    publicPem,
  };
}
