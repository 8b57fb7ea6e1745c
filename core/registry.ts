/**
 * The read side of the model registry: which models exist in the store and which of their
 * versions are published (have `model.sig`), with size, creation time, signer hint and source.
 */
import { type ArtifactLayout, MODEL_CARD_FILE } from "./artifact-layout.js";
import { ErrorCode, StoreError } from "./errors.js";
import { mapLimit } from "./map-limit.js";
import { type ModelCard, parseModelCard } from "./model-card.js";
import { isModelName, isVersionName } from "./names.js";
import { parseBundle } from "./oms/bundle.js";
import { SIGNATURE_FILE } from "./oms/signer.js";
import { type ObjectInfo, type ObjectStore, readObject } from "./store/object-store.js";

/** A published version as one listing of the store shows it. */
export interface PublishedVersion {
  readonly model: string;
  readonly version: string;
  /** Bytes of all files of the version, signature included. */
  readonly size: number;
  /** Files of the version, the signature not counted. */
  readonly files: number;
}

/** What a version says about itself, in its cutover.json and model.sig; fixed once it is published. */
export interface VersionDetails {
  /** From cutover.json; undefined for a version pushed by another tool without one. */
  readonly created?: string;
  /** The signer's key hint from model.sig (hex SHA-256 of its SPKI PEM). */
  readonly signerHint?: string;
  /** Where it was built, from cutover.json: commit, pipeline URL, repository (each when CI said it). */
  readonly source?: ModelCard["source"];
}

export type VersionSummary = PublishedVersion & VersionDetails;

/** Oldest first by creation time, then by name. */
export function byCreation(a: VersionSummary, b: VersionSummary): number {
  return (a.created ?? "").localeCompare(b.created ?? "") || a.version.localeCompare(b.version);
}

/** A store failure worth trying again (not an absent or unreadable file). */
function isPassing(error: unknown): boolean {
  return error instanceof StoreError && error.retryable;
}

const READ_CONCURRENCY = 8;

export class ModelRegistry {
  constructor(
    readonly store: ObjectStore,
    readonly layout: ArtifactLayout,
  ) {}

  /** Model names (folders under the prefix that are valid model names), sorted. */
  async listModels(): Promise<string[]> {
    const folders = await this.store.listFolders(this.layout.modelsPrefix());
    return folders.filter(isModelName);
  }

  /** Published versions of a model (those with a signature), as one listing of the store shows them. */
  async listPublished(model: string): Promise<PublishedVersion[]> {
    const prefix = this.layout.modelPrefix(model);
    const byVersion = new Map<string, { size: number; files: number; signed: boolean }>();
    for await (const object of this.store.list(prefix)) {
      const [version, ...rest] = object.key.slice(prefix.length).split("/");
      if (version === undefined || rest.length === 0 || !isVersionName(version)) continue;
      const entry = byVersion.get(version) ?? { size: 0, files: 0, signed: false };
      entry.size += object.size;
      entry.files += 1;
      if (rest.join("/") === SIGNATURE_FILE) entry.signed = true;
      byVersion.set(version, entry);
    }
    return [...byVersion]
      .filter(([, entry]) => entry.signed)
      .map(([version, entry]) => ({ model, version, size: entry.size, files: entry.files - 1 }));
  }

  /**
   * A published version's creation time and signer hint, read from its cutover.json and model.sig.
   * A file that is missing or does not parse leaves its field out; a store that fails rejects
   * (STORE_UNREACHABLE), so that a caller remembering the answer does not remember a passing failure.
   */
  async readVersionDetails(model: string, version: string): Promise<VersionDetails> {
    const [card, signerHint] = await Promise.all([
      this.readModelCard(model, version).catch((error: unknown) => {
        if (isPassing(error)) throw error;
        return undefined;
      }),
      this.readSignerHint(model, version),
    ]);
    const source = card !== undefined && Object.keys(card.source).length > 0 ? { source: card.source } : {};
    return { ...(card ? { created: card.created } : {}), ...(signerHint ? { signerHint } : {}), ...source };
  }

  /** Published versions with their details, oldest first (a version whose details fail to read has none). */
  async listVersions(model: string): Promise<VersionSummary[]> {
    const published = await this.listPublished(model);
    const summaries = await mapLimit(published, READ_CONCURRENCY, async (version) => ({
      ...version,
      ...(await this.readVersionDetails(model, version.version).catch(() => ({}))),
    }));
    return summaries.sort(byCreation);
  }

  /** True when the version's commit marker exists. */
  async isPublished(model: string, version: string): Promise<boolean> {
    return (await this.store.head(this.layout.signatureKey(model, version))) !== undefined;
  }

  async readModelCard(model: string, version: string): Promise<ModelCard> {
    return parseModelCard(await readObject(this.store, this.layout.fileKey(model, version, MODEL_CARD_FILE)));
  }

  /** The signature bundle bytes; StoreError NOT_FOUND when the version is not published. */
  async readSignature(model: string, version: string): Promise<Buffer> {
    try {
      return await readObject(this.store, this.layout.signatureKey(model, version));
    } catch (error) {
      if (error instanceof StoreError && error.code === ErrorCode.NotFound) {
        throw this.notPublished(model, version, error);
      }
      throw error;
    }
  }

  /**
   * The signature object's size and ETag, from one HEAD (no body): enough to tell that a signature
   * read earlier is still the one in the store. StoreError NOT_FOUND when the version is not published.
   */
  async signatureInfo(model: string, version: string): Promise<ObjectInfo> {
    const info = await this.store.head(this.layout.signatureKey(model, version));
    if (info === undefined) throw this.notPublished(model, version);
    return info;
  }

  private notPublished(model: string, version: string, cause?: unknown): StoreError {
    return new StoreError(
      ErrorCode.NotFound,
      `version ${model}/${version} is not published in ${this.store.location}`,
      cause === undefined ? {} : { cause },
    );
  }

  private async readSignerHint(model: string, version: string): Promise<string | undefined> {
    const bytes = await this.readSignature(model, version).catch((error: unknown) => {
      if (isPassing(error)) throw error;
      return undefined;
    });
    if (bytes === undefined) return undefined;
    try {
      return parseBundle(bytes).verificationMaterial.publicKey?.hint;
    } catch {
      return undefined;
    }
  }
}
