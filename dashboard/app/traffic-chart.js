// @ts-check
// Requests per second (solid, left axis) and p99 latency (dashed, right axis) per version over the
// last minutes, from the controller's traffic series (summed over the nodes' heartbeats), drawn
// with uPlot on a canvas. The chart is made again only when the set of versions changes.
import uPlot from "../vendor/uplot.js";
import { h } from "./dom.js";
import { duration, millis, percent } from "./format.js";

/** @typedef {import("./types").ModelSeries} ModelSeries */

/** The span the x axis shows, in seconds: what the series covers, from two minutes up to the ten the controller keeps. */
const SPAN_S = 600;
const MIN_SPAN_S = 120;
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

const COLORS = ["#0b62d6", "#e36209", "#1a7f37", "#8250df", "#cf222e", "#6e7781"];

/**
 * The newest window in words (the chart's text equivalent): each version's rate, failures (5xx),
 * rejections (4xx) and p99.
 * @param {ModelSeries["points"][number] | undefined} point
 */
function latest(point) {
  const versions = Object.entries(point?.versions ?? {})
    .filter(([, figures]) => figures.requests > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  if (point === undefined || versions.length === 0) return "Latest window: no requests.";
  const each = versions.map(
    ([version, figures]) =>
      `${version} ${figures.rps.toFixed(1)} req/s, ${percent(figures.errorRate)} failed, ${percent(figures.clientErrorRate ?? null)} rejected (4xx), p99 ${millis(figures.p99Ms)}`,
  );
  return `Latest window, to ${new Date(point.at).toLocaleTimeString()}: ${each.join("; ")}.`;
}

export class TrafficChart {
  constructor() {
    this.element = h("div", {
      class: "chart",
      role: "img",
      "aria-label": "Requests per second and p99 latency per version",
    });
    this.caption = h("p", { class: "muted" }, "No traffic seen yet.");
    /** @type {uPlot | undefined} */
    this.plot = undefined;
    /** @type {string} */
    this.versionsKey = "";
    this.resize = () => this.plot?.setSize(this.size());
    window.addEventListener("resize", this.resize);
  }

  size() {
    return { width: Math.max(280, this.element.clientWidth || 600), height: 240 };
  }

  /** @param {ModelSeries | undefined} series */
  update(series) {
    const points = series?.points ?? [];
    const versions = [...new Set(points.flatMap((point) => Object.keys(point.versions)))].sort();
    const requests = points.reduce(
      (sum, point) => sum + Object.values(point.versions).reduce((s, v) => s + v.requests, 0),
      0,
    );
    this.caption.textContent =
      points.length === 0
        ? "No traffic seen yet (the chart fills as nodes report, every few seconds)."
        : `${Math.round(requests)} requests in the last ${duration(points.length * (series?.windowMs ?? 5000))}. ${latest(points.at(-1))}`;
    this.element.setAttribute(
      "aria-label",
      `Requests per second and p99 latency for ${versions.join(", ") || "no version"}`,
    );
    /** @type {uPlot.AlignedData} */
    const data = [
      points.map((point) => point.at / 1000),
      ...versions.map((version) => points.map((point) => point.versions[version]?.rps ?? 0)),
      ...versions.map((version) => points.map((point) => point.versions[version]?.p99Ms ?? null)),
    ];
    const key = versions.join("\u0000");
    if (this.plot !== undefined && key === this.versionsKey) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.versionsKey = key;
    if (versions.length === 0) {
      this.plot = undefined;
      return;
    }
    /** @type {uPlot.Series[]} */
    const lines = [
      {},
      ...versions.map((version, i) => ({
        label: `${version} req/s`,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        scale: "rps",
      })),
      ...versions.map((version, i) => ({
        label: `${version} p99 ms`,
        stroke: COLORS[i % COLORS.length],
        dash: [6, 4],
        width: 1.5,
        scale: "ms",
        spanGaps: false,
      })),
    ];
    this.plot = new uPlot(
      {
        ...this.size(),
        series: lines,
        scales: {
          // A fixed span ending at the newest window (uPlot would stretch one point over years).
          x: { time: true, range: (_u, min, max) => [max - Math.min(SPAN_S, Math.max(MIN_SPAN_S, max - min)), max] },
          rps: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
          ms: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
        axes: [
          // Ticks on whole minutes, labelled hh:mm.
          {
            incrs: [60, 120, 300, 600],
            space: 60,
            values: (_u, splits) => splits.map((at) => clock.format(new Date(at * 1000))),
          },
          { scale: "rps", label: "req/s" },
          { scale: "ms", side: 1, label: "p99 ms", grid: { show: false } },
        ],
      },
      data,
      this.element,
    );
  }

  destroy() {
    window.removeEventListener("resize", this.resize);
    this.plot?.destroy();
  }
}
