import { MemoryRolloutStore } from "../../controller/state/memory-rollout-store.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import { stateContract } from "../support/state-contract.js";

stateContract("in-memory state (the embedded default)", () => {
  const fleet = new MemoryFleetState();
  return { fleet, store: new MemoryRolloutStore(fleet) };
});
