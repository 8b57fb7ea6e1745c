/** OpenSSF Model Signing v1.0 (private-key method): sign and verify model folders. */
export { BUNDLE_MEDIA_TYPE, type Bundle, PAYLOAD_TYPE, PREDICATE_TYPE, parseBundle } from "./bundle.js";
export {
  type CurveHash,
  canonicalPublicPem,
  generateSigningKeyPair,
  keyHint,
  loadSigningKey,
  loadTrustedKeys,
  type SigningKey,
  type TrustedKey,
  trustedKeyFromPem,
} from "./keys.js";
export { createIgnoreMatcher, type ManifestEntry, manifestOfFolder } from "./manifest.js";
export {
  createStatement,
  SIGNATURE_FILE,
  serializeBundle,
  signFolder,
  signStatement,
  subjectDigest,
} from "./signer.js";
export { type VerifiedManifest, type VerifyFolderOptions, verifyBundle, verifyFolder } from "./verifier.js";
