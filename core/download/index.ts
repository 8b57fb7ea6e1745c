/** Downloads of signed blobs into the cache: one GET or parallel ranged GETs, hashed in byte order. */
export { type BlobDownload, DEFAULT_RANGED, downloadBlob, isRanged, type RangedSettings } from "./blob-download.js";
export { type PartSettings, partsOf } from "./part-reader.js";
