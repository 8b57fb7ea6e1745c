/**
 * What this node last applied, per model, kept on local disk next to the cache so that a node
 * restarted while Redis or S3 is down serves its last verified version at once.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";

const recordSchema = z.object({
  models: z.record(z.string(), z.object({ version: z.string(), revision: z.number().int().nonnegative() })),
});
export type AppliedRecord = z.infer<typeof recordSchema>;

export class AppliedStore {
  private readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(cacheDir: string) {
    this.path = join(cacheDir, "applied.json");
  }

  /** The record, or an empty one when there is none or it does not parse (a fresh node). */
  async read(): Promise<AppliedRecord> {
    try {
      const parsed = recordSchema.safeParse(JSON.parse(await readFile(this.path, "utf8")));
      return parsed.success ? parsed.data : { models: {} };
    } catch {
      return { models: {} };
    }
  }

  /** Records a model's applied version; writes are serialized and atomic (temp file + rename). */
  record(model: string, version: string, revision: number): Promise<void> {
    this.writing = this.writing.then(async () => {
      const current = await this.read();
      current.models[model] = { version, revision };
      await mkdir(dirname(this.path), { recursive: true });
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(current));
      await rename(temp, this.path);
    });
    return this.writing;
  }
}
