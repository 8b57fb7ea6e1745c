// The shapes the page reads from the controller (docs/API.md says what each field means). Only the
// fields the page uses are listed.

export interface Figures {
  requests: number;
  failures: number;
  errorRate: number;
  /** Absent in analyses made before 4xx answers were counted. */
  clientErrorRate?: number;
  /** Absent in analyses made before the median was kept. */
  p50Ms?: number | null;
  p99Ms: number | null;
}

export interface Analysis {
  at: string;
  step: number;
  weight: number;
  verdict: "pass" | "fail" | "inconclusive";
  reason: string;
  baseline: Figures;
  candidate: Figures;
}

export interface Progressive {
  strategy: "canary" | "linear";
  steps: number[];
  step: number;
  weight: number;
  bakeUntil: number | null;
  manual: boolean;
  holding: string | null;
  shadowPercent: number;
  baseline: string;
  lastAnalysis: Analysis | null;
}

export interface Rollout {
  id: string;
  target: string;
  phase: "preparing" | "promoting" | "progressing";
  startedAt: string;
  by: string;
  progressive?: Progressive;
}

export interface ModelState {
  active: string | null;
  previous: string | null;
  revision: number;
  rollout: Rollout | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

export interface ModelSummary {
  model: string;
  state: ModelState;
  nodes: { live: number; onActive: number };
}

export interface NodeModel {
  active: string | null;
  revision: number;
  warm: string[];
  staged: null | { version: string; state: string; rolloutId?: string; warning?: string };
  lastError: string | null;
  cold?: Record<string, string>;
  providers?: Record<string, string>;
  split?: { candidate: string; weight: number; shadowPercent: number };
}

export interface NodeRecord {
  nodeId: string;
  url: string;
  executionProvider: string;
  startedAt: string;
  updatedAt: string;
  serves: string[];
  models: Record<string, NodeModel>;
}

export interface FleetSnapshot {
  at: string;
  models: ModelSummary[];
  nodes: NodeRecord[];
}

export interface VersionPoint {
  rps: number;
  errorRate: number | null;
  /** Absent from controllers of an earlier release. */
  clientErrorRate?: number | null;
  p99Ms: number | null;
  requests: number;
}

export interface ModelSeries {
  windowMs: number;
  points: { at: number; versions: Record<string, VersionPoint> }[];
}

export interface TrafficSnapshot {
  models: Record<string, ModelSeries>;
}

export interface VersionSummary {
  version: string;
  size: number;
  files: number;
  created?: string;
  signerHint?: string;
  source?: { commit?: string; pipeline?: string; repository?: string };
}

/** What a node's replay of recent real requests on a staged version came to (core/replay-report.ts). */
export interface ReplayReport {
  replayed: number;
  compared: number;
  divergent: number;
  worstAbsolute?: number;
  worstRelative?: number;
  first?: string;
}

export interface NodeOutcome {
  nodeId: string;
  outcome: string;
  code?: string;
  reason?: string;
  warmup?: "golden" | "replay" | "synthetic" | "cold";
  replay?: ReplayReport;
}

export interface HistoryEntry {
  rolloutId: string;
  action: "activate" | "rollback";
  by: string;
  startedAt: string;
  finishedAt: string;
  from: string | null;
  to: string;
  outcome: "promoted" | "aborted";
  revision: number;
  reason?: string;
  nodes: NodeOutcome[];
  switchSpreadMs?: number;
  warnings?: string[];
  strategy?: "canary" | "linear";
  steps?: number[];
}

export interface ModelDetail {
  model: string;
  state: ModelState;
  versions: VersionSummary[];
  nodes: NodeRecord[];
}
