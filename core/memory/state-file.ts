/**
 * The file the in-memory fleet state is kept in between runs (`cutover dev`: `.cutover/state.json`):
 * every model's state and history. Without it a restarted dev would start again at revision 0 while
 * its nodes remember a higher revision in their applied.json. Node heartbeats and rollout locks are
 * not kept: they belong to the processes that held them.
 */
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../atomic-file.js";
import { ErrorCode, errorMessage, StateError } from "../errors.js";
import {
  type HistoryEntry,
  historyEntrySchema,
  type ModelState,
  modelStateSchema,
  parseStored,
} from "../model-state.js";
import { isModelName } from "../names.js";

const stateFileSchema = z.object({
  format: z.literal(1),
  models: z.record(
    z.string().refine(isModelName, "not a model name"),
    z.object({ state: modelStateSchema, history: z.array(historyEntrySchema) }),
  ),
});

/** What the file holds: per model, its state and its history (newest first). */
export interface StateSnapshot {
  readonly states: ReadonlyMap<string, ModelState>;
  readonly histories: ReadonlyMap<string, readonly HistoryEntry[]>;
}

export class StateFile {
  constructor(readonly path: string) {}

  /** The saved state; undefined when there is no file yet. STATE_CORRUPT when it does not parse. */
  async read(): Promise<StateSnapshot | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new StateError(ErrorCode.StateUnreachable, `cannot read ${this.path}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    const parsed = parseStored(stateFileSchema, raw, this.path);
    const entries = Object.entries(parsed.models);
    return {
      states: new Map(entries.map(([model, { state }]) => [model, state])),
      histories: new Map(entries.map(([model, { history }]) => [model, history])),
    };
  }

  /** Replaces the file with `snapshot` in one step (temp file + rename). */
  async write(snapshot: StateSnapshot): Promise<void> {
    const models: z.infer<typeof stateFileSchema>["models"] = {};
    for (const model of new Set([...snapshot.states.keys(), ...snapshot.histories.keys()])) {
      const state = snapshot.states.get(model);
      if (state === undefined) continue;
      models[model] = { state, history: [...(snapshot.histories.get(model) ?? [])] };
    }
    try {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFileAtomic(this.path, `${JSON.stringify({ format: 1, models }, null, 2)}\n`);
    } catch (error) {
      throw new StateError(ErrorCode.StateUnreachable, `cannot write ${this.path}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }
}
