// @ts-check
// Requests per second (solid, left axis) and p99 latency (dashed, right axis) per version over the
// last minutes, from the controller's traffic series (summed over the nodes' heartbeats), drawn
// with uPlot on a canvas. The chart is made again only when the set of versions changes.
import uPlot from "../vendor/uplot.js";
import { h } from "./dom.js";

/** @typedef {import("./types").ModelSeries} ModelSeries */

const COLORS = ["#0b62d6", "#e36209", "#1a7f37", "#8250df", "#cf222e", "#6e7781"];

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
        : `${Math.round(requests)} requests in the last ${Math.round((points.length * (series?.windowMs ?? 5000)) / 60000)} min; ${versions.join(", ")}`;
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
        scales: { rps: { auto: true }, ms: { auto: true } },
        axes: [{}, { scale: "rps", label: "req/s" }, { scale: "ms", side: 1, label: "p99 ms", grid: { show: false } }],
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
