/**
 * What this node last applied, per model, kept on local disk next to the cache so that a node
 * restarted while Redis or S3 is down serves its last verified version at once. The file is read
 * back like anything from outside: every model and version name passes core/names.ts's rules before
 * it is used to build a cache path, so an edited or corrupted applied.json cannot make the node load
 * a folder outside its cache (`"version": "../../etc"`). A bad entry is dropped with a log line; the
 * others still count.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { errorMessage } from "../core/errors.js";
import { isModelName, isVersionName, MODEL_NAME_RULE, VERSION_NAME_RULE } from "../core/names.js";

const entrySchema = z.object({ version: z.string(), revision: z.number().int().nonnegative() });
const fileSchema = z.object({ models: z.record(z.string(), z.unknown()) });

export interface AppliedRecord {
  models: Record<string, z.infer<typeof entrySchema>>;
}

/** A name from the file, quoted and cut short for a log line. */
function quoted(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

export class AppliedStore {
  private readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    cacheDir: string,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.path = join(cacheDir, "applied.json");
  }

  /**
   * The record's valid entries; an empty record when there is no file (a fresh node) or it does not
   * parse. Each dropped entry, and a file that does not parse, is logged.
   */
  read(): Promise<AppliedRecord> {
    return this.readValid(this.log);
  }

  private async readValid(log: (line: string) => void): Promise<AppliedRecord> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch {
      return { models: {} };
    }
    let parsed: z.infer<typeof fileSchema>;
    try {
      parsed = fileSchema.parse(JSON.parse(text));
    } catch (error) {
      log(`${this.path} is unreadable, ignored: ${errorMessage(error).split("\n")[0]}`);
      return { models: {} };
    }
    const record: AppliedRecord = { models: {} };
    for (const [model, value] of Object.entries(parsed.models)) {
      const entry = entrySchema.safeParse(value);
      const problem = !isModelName(model)
        ? `model name ${quoted(model)} breaks the rule (${MODEL_NAME_RULE})`
        : !entry.success
          ? `entry of ${model} is not {version, revision}`
          : !isVersionName(entry.data.version)
            ? `version name ${quoted(entry.data.version)} of ${model} breaks the rule (${VERSION_NAME_RULE})`
            : undefined;
      if (problem !== undefined || !entry.success) {
        log(`${this.path}: ignored an entry: ${problem}`);
        continue;
      }
      record.models[model] = entry.data;
    }
    return record;
  }

  /**
   * Records a model's applied version; writes are serialized and atomic (temp file + rename). Entries
   * that do not pass the name rules are not written back.
   */
  record(model: string, version: string, revision: number): Promise<void> {
    this.writing = this.writing.then(async () => {
      const current = await this.readValid(() => undefined);
      current.models[model] = { version, revision };
      await mkdir(dirname(this.path), { recursive: true });
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(current));
      await rename(temp, this.path);
    });
    return this.writing;
  }
}
