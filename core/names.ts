/**
 * The naming rules of the artifact contract, in one place. Every model name, version name and
 * resource path that enters cutover (CLI flags, HTTP paths, bus messages, bundle manifests) passes
 * through here before it is used to build a key or a path.
 */
import { ErrorCode, InputError, VerificationError } from "./errors.js";

const MODEL_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const MODEL_NAME_RULE = "1-63 chars of a-z 0-9 . _ -, starting with a letter or digit, no '..'";
export const VERSION_NAME_RULE = "1-128 chars of A-Z a-z 0-9 . _ -, starting with a letter or digit, no '..'";

export function isModelName(value: string): boolean {
  return MODEL_RE.test(value) && !value.includes("..");
}

export function isVersionName(value: string): boolean {
  return VERSION_RE.test(value) && !value.includes("..");
}

/** Returns the name unchanged, or throws an {@link InputError} that quotes it and the rule. */
export function assertModelName(value: string): string {
  if (!isModelName(value)) {
    throw new InputError(`invalid model name ${JSON.stringify(value)}: ${MODEL_NAME_RULE}`);
  }
  return value;
}

/** Returns the name unchanged, or throws an {@link InputError} that quotes it and the rule. */
export function assertVersionName(value: string): string {
  if (!isVersionName(value)) {
    throw new InputError(`invalid version name ${JSON.stringify(value)}: ${VERSION_NAME_RULE}`);
  }
  return value;
}

/**
 * Checks a resource name from a manifest: a relative POSIX path whose every segment is a plain
 * name. Rejects absolute paths, backslashes, empty, `.` and `..` segments and NUL, so that joining
 * it to a folder or a key prefix can never leave that folder.
 */
export function assertResourcePath(value: string): string {
  const unsafe =
    value.length === 0 ||
    value.length > 1024 ||
    value.startsWith("/") ||
    value.includes("\\") ||
    value.includes("\0") ||
    value.split("/").some((segment) => segment === "" || segment === "." || segment === "..");
  if (unsafe) {
    throw new VerificationError(
      ErrorCode.UnsafePath,
      `resource name ${JSON.stringify(value)} is not a relative path inside the model folder`,
    );
  }
  return value;
}
