import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FolderStore, readObject } from "../../core/store/index.js";
import { tempDir } from "../support/temp-dir.js";

let root: string;
let cleanup: () => Promise<void>;
let store: FolderStore;

beforeEach(async () => {
  ({ path: root, cleanup } = await tempDir());
  store = new FolderStore(root);
});
afterEach(() => cleanup());

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe("the folder store", () => {
  it("puts, gets, heads and lists objects by key", async () => {
    await store.put("m/v1/model.onnx", Buffer.from("onnx"));
    await store.put("m/v1/golden/a.json", Readable.from([Buffer.from("{}")]));
    await store.put("m/v2/model.onnx", Buffer.from("onnx2"));
    expect((await readObject(store, "m/v1/model.onnx")).toString()).toBe("onnx");
    expect(await store.head("m/v1/model.onnx")).toMatchObject({ size: 4 });
    expect(await store.head("m/v1/missing")).toBeUndefined();
    const keys: string[] = [];
    for await (const object of store.list("m/v1/")) keys.push(object.key);
    expect(keys).toEqual(["m/v1/golden/a.json", "m/v1/model.onnx"]);
    expect(await store.listFolders("m/")).toEqual(["v1", "v2"]);
    expect(await store.listFolders("")).toEqual(["m"]);
  });

  it("reads from an offset (the resume path)", async () => {
    await store.put("k", Buffer.from("0123456789"));
    const object = await store.get("k", { start: 4 });
    expect(object.totalSize).toBe(10);
    expect(await text(object.body)).toBe("456789");
  });

  it("a conditional put fails with ALREADY_EXISTS and keeps the first object", async () => {
    await store.put("k", Buffer.from("first"), { ifNoneMatch: true });
    await expect(store.put("k", Buffer.from("second"), { ifNoneMatch: true })).rejects.toMatchObject({
      code: "ALREADY_EXISTS",
    });
    expect((await readObject(store, "k")).toString()).toBe("first");
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });

  it("a missing key is NOT_FOUND; a key that climbs out is refused", async () => {
    await expect(store.get("nope")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(store.put("../escape", Buffer.from("x"))).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(store.head("/etc/passwd")).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });

  it("a body stream that fails leaves nothing behind", async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error("source broke"));
      },
    });
    await expect(store.put("k", failing)).rejects.toThrow(/source broke/);
    expect(await store.head("k")).toBeUndefined();
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });

  it("the first write removes .part files an interrupted write left over an hour ago, and leaves recent ones", async () => {
    // What a push killed mid-upload leaves: its temp file, no longer written to.
    const temp = join(root, ".tmp");
    await mkdir(temp, { recursive: true });
    const hoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await writeFile(join(temp, "abandoned.part"), "half an upload");
    await utimes(join(temp, "abandoned.part"), hoursAgo, hoursAgo);
    await writeFile(join(temp, "in-flight.part"), "another process is writing this");
    await writeFile(join(temp, "notes.txt"), "not a temp file of the store");
    await utimes(join(temp, "notes.txt"), hoursAgo, hoursAgo);

    await store.put("k", Buffer.from("x"));
    expect((await readdir(temp)).sort()).toEqual(["in-flight.part", "notes.txt"]);
  });
});
