/** The object store: interface, implementations, and the factory the edges use. */
import type { StoreConfig } from "../config.js";
import { FolderStore } from "./folder-store.js";
import type { ObjectStore } from "./object-store.js";
import { S3Store } from "./s3-store.js";

export { FolderStore } from "./folder-store.js";
export {
  type GetOptions,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  readObject,
} from "./object-store.js";
export { S3Store, type S3StoreOptions, toStoreError } from "./s3-store.js";

/** Makes the store a configuration names. */
export function createObjectStore(config: StoreConfig): ObjectStore {
  if (config.kind === "folder") return new FolderStore(config.dir);
  return new S3Store({
    bucket: config.bucket,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });
}
