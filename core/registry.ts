/**
 * The read side of the model registry: which models exist in the store and which of their
 * versions are published (have `model.sig`), with size, creation time and signer hint.
 */
import { type ArtifactLayout, MODEL_CARD_FILE } from "./artifact-layout.js";
import { ErrorCode, StoreError } from "./errors.js";
import { mapLimit } from "./map-limit.js";
import { type ModelCard, parseModelCard } from "./model-card.js";
import { isModelName, isVersionName } from "./names.js";
import { parseBundle } from "./oms/bundle.js";
import { SIGNATURE_FILE } from "./oms/signer.js";
import { type ObjectStore, readObject } from "./store/object-store.js";

export interface VersionSummary {
  readonly model: string;
  readonly version: string;
  /** Bytes of all files of the version, signature included. */
  readonly size: number;
  readonly files: number;
  /** From cutover.json; undefined for a version pushed by another tool without one. */
  readonly created?: string;
  /** The signer's key hint from model.sig (hex SHA-256 of its SPKI PEM). */
  readonly signerHint?: string;
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

  /** Published versions of a model, oldest first by creation time (then by name). */
  async listVersions(model: string): Promise<VersionSummary[]> {
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
    const published = [...byVersion].filter(([, entry]) => entry.signed);
    const summaries = await mapLimit(published, READ_CONCURRENCY, async ([version, entry]) => {
      const [card, signerHint] = await Promise.all([
        this.readModelCard(model, version).catch(() => undefined),
        this.readSignerHint(model, version),
      ]);
      return {
        model,
        version,
        size: entry.size,
        files: entry.files - 1,
        ...(card ? { created: card.created } : {}),
        ...(signerHint ? { signerHint } : {}),
      };
    });
    return summaries.sort(
      (a, b) => (a.created ?? "").localeCompare(b.created ?? "") || a.version.localeCompare(b.version),
    );
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
        throw new StoreError(
          ErrorCode.NotFound,
          `version ${model}/${version} is not published in ${this.store.location}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  private async readSignerHint(model: string, version: string): Promise<string | undefined> {
    try {
      const publicKey = parseBundle(await this.readSignature(model, version)).verificationMaterial.publicKey;
      return publicKey?.hint;
    } catch {
      return undefined;
    }
  }
}
