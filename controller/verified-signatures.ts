/**
 * The signatures a controller has verified, remembered so that an activation or a rollback does not
 * read and verify the bundle again — but confirmed against the store on every use: a signature is
 * written once by `push`, yet the store can still be changed behind the controller's back (a deleted
 * or rewritten model.sig), and a remembered answer must not outlive the object it was about.
 */
import type { TrustedKey } from "../core/oms/keys.js";
import { verifyBundle } from "../core/oms/verifier.js";
import type { ModelRegistry } from "../core/registry.js";

/** What was verified: the object as a HEAD describes it, and its bytes (for stores without ETags). */
interface VerifiedSignature {
  readonly etag: string | undefined;
  readonly size: number;
  readonly bytes: Buffer;
}

export class VerifiedSignatures {
  private readonly known = new Map<string, VerifiedSignature>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly trustedKeys: readonly TrustedKey[],
    /** How many versions are remembered; beyond it the oldest go. */
    private readonly capacity: number,
  ) {}

  /**
   * Resolves when `model`/`version` is published with a signature of a trusted key. A remembered
   * signature costs one HEAD of model.sig (a GET of it where the store gives no ETag); one that
   * changed is verified again, one that is gone fails with NOT_FOUND.
   */
  async check(model: string, version: string): Promise<void> {
    const key = `${model}/${version}`;
    const info = await this.registry.signatureInfo(model, version).catch((error: unknown) => {
      this.known.delete(key);
      throw error;
    });
    const known = this.known.get(key);
    if (known !== undefined && known.size === info.size) {
      if (info.etag !== undefined && info.etag === known.etag) return;
      if (info.etag === undefined && known.bytes.equals(await this.registry.readSignature(model, version))) return;
    }
    this.known.delete(key);
    const bytes = await this.registry.readSignature(model, version);
    verifyBundle(bytes, this.trustedKeys);
    this.known.set(key, { etag: info.etag, size: info.size, bytes });
    if (this.known.size > this.capacity) this.known.delete(this.known.keys().next().value ?? "");
  }
}
