/**
 * Where a model version's objects live in the store — the artifact contract:
 * `<prefix>/<model>/<version>/{model.onnx, cutover.json, side files…, model.sig}`.
 * Every object key is built here, from names that passed the rules in names.ts.
 */
import { ConfigError } from "./errors.js";
import { assertModelName, assertResourcePath, assertVersionName } from "./names.js";
import { SIGNATURE_FILE } from "./oms/signer.js";

export const MODEL_FILE = "model.onnx";
export const MODEL_CARD_FILE = "cutover.json";

export class ArtifactLayout {
  /** The normalized prefix: empty, or segments joined by `/` with a trailing `/`. */
  readonly prefix: string;

  constructor(prefix = "") {
    const trimmed = prefix.replace(/^\/+|\/+$/g, "");
    if (trimmed !== "" && trimmed.split("/").some((segment) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(segment))) {
      throw new ConfigError(
        `S3 prefix ${JSON.stringify(prefix)}: segments must be letters, digits, . _ - (no empty or dot segments)`,
      );
    }
    this.prefix = trimmed === "" ? "" : `${trimmed}/`;
  }

  /** The folder listing models. */
  modelsPrefix(): string {
    return this.prefix;
  }

  modelPrefix(model: string): string {
    return `${this.prefix}${assertModelName(model)}/`;
  }

  versionPrefix(model: string, version: string): string {
    return `${this.modelPrefix(model)}${assertVersionName(version)}/`;
  }

  fileKey(model: string, version: string, name: string): string {
    return `${this.versionPrefix(model, version)}${assertResourcePath(name)}`;
  }

  /** The commit marker: a version is published once this object exists. */
  signatureKey(model: string, version: string): string {
    return `${this.versionPrefix(model, version)}${SIGNATURE_FILE}`;
  }
}
