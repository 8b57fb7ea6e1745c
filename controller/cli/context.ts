/**
 * What every CLI command gets from the edge: the parsed configuration and factories for the store,
 * the registry and the trusted keys. Built once in bin/main.ts from `process.env`.
 */
import { ArtifactLayout } from "../../core/artifact-layout.js";
import type { ArtifactConfig } from "../../core/config.js";
import { ConfigError } from "../../core/errors.js";
import { loadTrustedKeys, type TrustedKey } from "../../core/oms/keys.js";
import { ModelRegistry } from "../../core/registry.js";
import { createObjectStore } from "../../core/store/index.js";

export interface CliContext {
  readonly config: ArtifactConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Opens the configured store; the caller closes `registry.store` when done. */
export function openRegistry(context: CliContext): ModelRegistry {
  return new ModelRegistry(createObjectStore(context.config.store), new ArtifactLayout(context.config.prefix));
}

/** Trusted keys from `--key` flags, else from CUTOVER_TRUSTED_KEYS; at least one is required. */
export async function resolveTrustedKeys(
  context: CliContext,
  flagKeys: readonly string[] | undefined,
): Promise<TrustedKey[]> {
  const paths = flagKeys && flagKeys.length > 0 ? flagKeys : context.config.trustedKeyPaths;
  if (paths.length === 0) throw new ConfigError("no trusted key: pass --key PUB or set CUTOVER_TRUSTED_KEYS");
  return loadTrustedKeys(paths);
}

/** Splits `a,b` lists given to flags like --ignore-paths; repeated flags accumulate. */
export function collectList(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean),
  ];
}
