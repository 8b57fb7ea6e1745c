/**
 * What `GET /v1/models` and the dashboard's live feed say about every model: its state and how many
 * live nodes serve it, and how many of those serve its active version. Read from the fleet state in
 * three calls plus one per model; the model names come from the caller (the store's listing and the
 * models with state).
 */
import type { FleetStateStore } from "../core/fleet-state.js";
import { type ModelState, type NodeRecord, nodeServes } from "../core/model-state.js";

export interface ModelSummary {
  readonly model: string;
  readonly state: ModelState;
  readonly nodes: { readonly live: number; readonly onActive: number };
}

/** Summaries of the models named in `stored` or with state, sorted by name, from `nodes` as listed. */
export async function summarizeModels(
  fleet: FleetStateStore,
  stored: readonly string[],
  nodes: readonly NodeRecord[],
): Promise<ModelSummary[]> {
  const withState = await fleet.listModelNames();
  const names = [...new Set([...stored, ...withState])].sort();
  return Promise.all(
    names.map(async (model) => {
      const state = await fleet.getModelState(model);
      const serving = nodes.filter((node) => nodeServes(node, model));
      return {
        model,
        state,
        nodes: {
          live: serving.length,
          onActive: serving.filter((node) => node.models[model]?.active === state.active).length,
        },
      };
    }),
  );
}
