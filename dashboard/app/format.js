// @ts-check
// How the page writes sizes, times and figures (the CLI's conventions where it has them).

/** @param {number} bytes */
export function bytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * A span of milliseconds as "4 s", "2 min 5 s", "3 h 2 min".
 * @param {number} ms
 */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${s % 60} s`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/**
 * How long ago an ISO time was, at `now`.
 * @param {string} iso
 * @param {number} now
 */
export function ago(iso, now) {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? "?" : `${duration(now - then)} ago`;
}

/** @param {string} iso */
export function time(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** @param {number | null} rate */
export function percent(rate) {
  return rate === null ? "–" : `${(rate * 100).toFixed(rate < 0.01 ? 2 : 1)} %`;
}

/** @param {number | null} ms */
export function millis(ms) {
  return ms === null ? "–" : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/**
 * A node's replay report as the CLI words it (core/replay-report.ts replaySummary): "32 replayed, 3 of
 * 30 compared diverged (worst 0.021 absolute, 4.1 % relative)".
 * @param {import("./types").ReplayReport} report
 */
export function replaySummary(report) {
  const { replayed, compared, divergent, worstAbsolute, worstRelative } = report;
  if (compared === 0) return `${replayed} replayed, none with outputs to compare`;
  /** @param {number} value */
  const digits = (value) => String(Number(value.toPrecision(2)));
  const worst =
    worstAbsolute !== undefined && worstRelative !== undefined
      ? ` (worst ${digits(worstAbsolute)} absolute, ${digits(worstRelative * 100)} % relative)`
      : "";
  return `${replayed} replayed, ${divergent} of ${compared} compared diverged${worst}`;
}
