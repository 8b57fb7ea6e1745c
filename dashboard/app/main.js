// @ts-check
// The dashboard's entry: listens to the controller's live feed (/v1/events), routes between the
// models list (#/) and one model (#/models/NAME), and keeps "… ago" and "time left" texts current.
import { askToken } from "./actions.js";
import { TOKEN_CHANGED, token } from "./api.js";
import { byId, replace } from "./dom.js";
import { ago, duration } from "./format.js";
import { ModelView } from "./model-view.js";
import { modelsView } from "./models-view.js";

/** @typedef {import("./types").FleetSnapshot} FleetSnapshot */
/** @typedef {import("./types").TrafficSnapshot} TrafficSnapshot */

const main = byId("main", HTMLElement);
const connection = byId("connection", HTMLSpanElement);

/** @type {FleetSnapshot | null} */
let fleet = null;
/** @type {TrafficSnapshot | null} */
let traffic = null;
/** @type {ModelView | null} */
let modelView = null;
let listKey = "";

/** The model named by the location's hash, or null for the list. */
function routedModel() {
  const match = /^#\/models\/(.+)$/.exec(location.hash);
  if (match?.[1] === undefined) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

function render() {
  const model = routedModel();
  if (model === null) {
    modelView?.destroy();
    modelView = null;
    document.title = "cutover";
    if (fleet === null) return;
    const key = JSON.stringify(fleet.models);
    if (key !== listKey || main.dataset.view !== "models") {
      listKey = key;
      main.dataset.view = "models";
      replace(main, modelsView(fleet.models));
    }
  } else {
    if (modelView?.model !== model) {
      modelView?.destroy();
      modelView = new ModelView(model);
      main.dataset.view = "model";
      replace(main, modelView.element);
      document.title = `${model} · cutover`;
      if (traffic !== null) modelView.traffic(traffic.models[model]);
    }
    if (fleet !== null) modelView.update(fleet);
  }
  tick();
}

/** Refreshes every relative time on the page. */
function tick() {
  const now = Date.now();
  for (const element of document.querySelectorAll("[data-since]")) {
    element.textContent = ago(element.getAttribute("data-since") ?? "", now);
  }
  for (const element of document.querySelectorAll("[data-until]")) {
    const left = Number(element.getAttribute("data-until")) - now;
    element.textContent = left > 0 ? duration(left) : "over (the next tick judges it)";
  }
}

function showToken() {
  const signedIn = byId("signed-in", HTMLSpanElement);
  const button = byId("token-button", HTMLButtonElement);
  const has = token() !== null;
  signedIn.textContent = has ? "token set: changes enabled" : "read-only";
  button.textContent = has ? "Change token" : "Enter token";
  listKey = "";
  if (modelView !== null) modelView.keys = {};
  render();
}

/** @param {"live" | "down" | "connecting"} state @param {string} text */
function status(state, text) {
  connection.className = `connection ${state}`;
  connection.textContent = text;
}

/** Seconds before the next try after the controller refused the stream (EventSource then gives up). */
let retryS = 1;

function listen() {
  const events = new EventSource("/v1/events");
  events.addEventListener("open", () => {
    retryS = 1;
    status("live", "live");
  });
  events.addEventListener("error", () => {
    if (events.readyState !== EventSource.CLOSED) {
      status("down", "reconnecting to the controller…");
      return;
    }
    // An HTTP error (503 STREAM_REFUSED, a proxy's 502): EventSource does not retry that itself.
    events.close();
    status("down", `disconnected; retrying in ${retryS} s`);
    setTimeout(listen, retryS * 1000);
    retryS = Math.min(30, retryS * 2);
  });
  events.addEventListener("fleet", (event) => {
    fleet = JSON.parse(/** @type {MessageEvent<string>} */ (event).data);
    status("live", "live");
    render();
  });
  events.addEventListener("traffic", (event) => {
    traffic = JSON.parse(/** @type {MessageEvent<string>} */ (event).data);
    const model = modelView?.model;
    if (model !== undefined && traffic !== null) modelView?.traffic(traffic.models[model]);
  });
  events.addEventListener("unavailable", (event) => {
    const { code, message } = JSON.parse(/** @type {MessageEvent<string>} */ (event).data);
    status("down", `${code}: ${message}`);
  });
}

byId("token-button", HTMLButtonElement).addEventListener("click", () => void askToken());
window.addEventListener(TOKEN_CHANGED, showToken);
window.addEventListener("hashchange", render);
setInterval(tick, 1000);
showToken();
listen();
