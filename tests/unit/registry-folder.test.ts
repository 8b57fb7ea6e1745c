import { join } from "node:path";
import { FolderStore } from "../../core/store/index.js";
import { registryContract } from "../support/registry-contract.js";
import { tempDir } from "../support/temp-dir.js";

registryContract("the folder store", () => ({
  async create(label) {
    const { path } = await tempDir(`cutover-store-${label.length}-`);
    return new FolderStore(join(path, "store"));
  },
}));
