// @ts-check
// One model's page: its state and the changes that can be made to it, the rollout in progress, the
// traffic chart, its nodes, versions and history. Each part is redrawn only when what it shows
// changed, so focus, open details and the chart survive the feed's updates.
import { actionButtons, askActivate, confirmChange, failureOf, runChange } from "./actions.js";
import { get, modelPath, post, token } from "./api.js";
import { h, replace } from "./dom.js";
import { nodesTable, versionsTable } from "./fleet-tables.js";
import { time } from "./format.js";
import { historyList } from "./history-list.js";
import { rolloutPanel } from "./rollout-panel.js";
import { TrafficChart } from "./traffic-chart.js";

/** @typedef {import("./types").FleetSnapshot} FleetSnapshot */

/** How often versions and history are read again without a change of state (a push, say). */
const DETAIL_EVERY_MS = 15_000;
/** @typedef {import("./types").ModelState} ModelState */
/** @typedef {import("./types").NodeRecord} NodeRecord */

/** @param {NodeRecord} node @param {string} model */
function serves(node, model) {
  return node.serves.length === 0 || node.serves.includes(model);
}

/** A node's entry for the model without the counts that change with every request. @param {NodeRecord} node @param {string} model */
function shown(node, model) {
  const entry = node.models[model];
  if (entry === undefined) return [node.nodeId, node.executionProvider];
  const { split, ...rest } = /** @type {import("./types").NodeModel & { served?: unknown }} */ (entry);
  delete rest.served;
  return [node.nodeId, node.executionProvider, rest, split && [split.candidate, split.weight, split.shadowPercent]];
}

export class ModelView {
  /** @param {string} model */
  constructor(model) {
    this.model = model;
    this.chart = new TrafficChart();
    this.parts = {
      head: h("div"),
      rollout: h("div"),
      chart: h(
        "section",
        { "aria-labelledby": "traffic-title" },
        h("h2", { id: "traffic-title" }, "Traffic"),
        this.chart.element,
        this.chart.caption,
      ),
      nodes: h("div"),
      versions: h("div"),
      history: h("div"),
    };
    this.element = h("div", { "data-view": "model" }, Object.values(this.parts));
    /** @type {Record<string, string>} */
    this.keys = {};
    /** @type {import("./types").VersionSummary[]} */
    this.versions = [];
    /** @type {import("./types").HistoryEntry[]} */
    this.history = [];
    this.detailKey = "";
    /** @type {FleetSnapshot | null} */
    this.fleet = null;
    this.busy = false;
    this.detailAsked = 0;
    this.detailShown = 0;
    this.detailTimer = setInterval(() => void this.loadDetail(), DETAIL_EVERY_MS);
  }

  /**
   * Redraws a part when its key changed.
   * @param {keyof ModelView["parts"]} part
   * @param {unknown} key
   * @param {() => Node | null} draw
   */
  part(part, key, draw) {
    const json = JSON.stringify(key);
    if (this.keys[part] === json) return;
    this.keys[part] = json;
    replace(this.parts[part], draw());
  }

  /** @param {FleetSnapshot} fleet */
  update(fleet) {
    this.fleet = fleet;
    const summary = fleet.models.find((entry) => entry.model === this.model);
    if (summary === undefined) {
      this.part("head", "missing", () =>
        h(
          "section",
          {},
          h("h1", {}, this.model),
          h("p", {}, "No such model: nothing published and no state. ", h("a", { href: "#/" }, "All models")),
        ),
      );
      return;
    }
    const { state } = summary;
    const nodes = fleet.nodes.filter((node) => serves(node, this.model));
    this.part("head", [state, token() !== null, this.busy, this.versions.length], () => this.head(state));
    this.part("rollout", [state.rollout, nodes.map((node) => shown(node, this.model))], () =>
      state.rollout === null ? null : rolloutPanel(this.model, state.rollout, nodes),
    );
    this.part(
      "nodes",
      nodes.map((node) => shown(node, this.model)),
      () => nodesTable(this.model, nodes),
    );
    // Heartbeat times move without a redraw.
    for (const node of nodes) {
      const since = this.parts.nodes.querySelector(`tr[data-node="${CSS.escape(node.nodeId)}"] [data-since]`);
      since?.setAttribute("data-since", node.updatedAt);
    }
    const detailKey = JSON.stringify([
      state.revision,
      state.rollout?.id,
      state.rollout?.phase,
      state.rollout?.progressive?.step,
    ]);
    if (detailKey !== this.detailKey) {
      this.detailKey = detailKey;
      void this.loadDetail();
    }
  }

  /**
   * Versions and history, read again when the model's state moved and every DETAIL_EVERY_MS (a
   * version pushed meanwhile). An answer older than one already shown is dropped.
   */
  async loadDetail() {
    const asked = ++this.detailAsked;
    try {
      const [detail, history] = await Promise.all([
        get(modelPath(this.model)).then((body) => /** @type {import("./types").ModelDetail} */ (body)),
        get(`${modelPath(this.model)}/history?limit=20`).then(
          (body) => /** @type {{ history: import("./types").HistoryEntry[] }} */ (body).history,
        ),
      ]);
      if (asked < this.detailShown) return;
      this.detailShown = asked;
      this.versions = detail.versions;
      this.history = history;
    } catch {
      // The feed says when the controller cannot read its state; the last lists stay.
    }
    this.part("versions", [this.versions, this.fleet?.models.find((m) => m.model === this.model)?.state.active], () =>
      versionsTable(this.versions, this.fleet?.models.find((m) => m.model === this.model)?.state.active ?? null),
    );
    this.part("history", this.history, () => historyList(this.history));
    if (this.fleet !== null) this.update(this.fleet);
  }

  /** @param {ModelState} state */
  head(state) {
    const model = this.model;
    const path = modelPath(model);
    const done = () => {
      this.busy = false;
      this.detailKey = "";
      if (this.fleet !== null) this.update(this.fleet);
    };
    const change = (
      /** @type {string} */ doing,
      /** @type {() => Promise<import("./actions.js").ChangeAnswer>} */ run,
      /** @type {string | undefined} */ activating = undefined,
    ) => {
      this.busy = true;
      if (this.fleet !== null) this.update(this.fleet);
      void runChange(doing, run, (answer) => failureOf(answer, model, activating), done);
    };
    const buttons = actionButtons(model, state, {
      activate: async () => {
        // The versions as the store has them now: one pushed since the page loaded is offered too.
        await this.loadDetail();
        const body = await askActivate(model, this.versions, state);
        const version = String(body?.version);
        if (body !== null) change(`Activating ${model} ${version}`, () => post(`${path}/activate`, body), version);
      },
      rollback: async () => {
        if (
          await confirmChange(
            `Roll ${model} back from ${state.active} to ${state.previous}? Every node switches at once.`,
          )
        ) {
          change(`Rolling ${model} back to ${state.previous}`, () =>
            post(`${path}/rollback`, { expectRevision: state.revision }),
          );
        }
      },
      promote: async () => {
        if (await confirmChange(`Move ${model}'s rollout of ${state.rollout?.target} to its next step now?`)) {
          change(`Promoting ${model}`, () =>
            post(`${path}/promote`, { expectStep: state.rollout?.progressive?.step ?? 0 }),
          );
        }
      },
      abort: async () => {
        if (
          await confirmChange(
            `Abort ${model}'s rollout of ${state.rollout?.target}? Its traffic goes back to ${state.active}.`,
          )
        ) {
          const expect = state.rollout?.id;
          change(`Aborting ${model}'s rollout`, () =>
            post(`${path}/abort`, expect === undefined ? {} : { expectRolloutId: expect }),
          );
        }
      },
    });
    for (const button of buttons.querySelectorAll("button")) if (this.busy) button.disabled = true;
    return h(
      "section",
      { "aria-labelledby": "model-title" },
      h("h1", { id: "model-title" }, model),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Active"),
        h("dd", { class: "mono", "data-testid": "active" }, state.active ?? "none"),
        h("dt", {}, "Previous"),
        h("dd", { class: "mono" }, state.previous ?? "–"),
        h("dt", {}, "Revision"),
        h("dd", {}, state.revision),
        h("dt", {}, "Last change"),
        h("dd", {}, state.updatedAt === null ? "–" : `${time(state.updatedAt)} by ${state.updatedBy ?? "?"}`),
      ),
      buttons,
    );
  }

  /** @param {import("./types").ModelSeries | undefined} series */
  traffic(series) {
    this.chart.update(series);
  }

  destroy() {
    clearInterval(this.detailTimer);
    this.chart.destroy();
  }
}
