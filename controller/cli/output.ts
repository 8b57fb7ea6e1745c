/**
 * How CLI commands talk to people and machines: one result on stdout (human lines, or JSON with
 * `--json`), progress on stderr only when stderr is a terminal, and a one-line reason on failure.
 */
import { CutoverError, errorMessage } from "../../core/errors.js";
import { RemoteError } from "./api-client.js";

export interface OutputOptions {
  readonly json?: boolean;
}

/** Prints a command's result: JSON for machines, or the given lines for people. */
export function printResult(options: OutputOptions, value: unknown, lines: () => readonly string[]): void {
  if (options.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else for (const line of lines()) process.stdout.write(`${line}\n`);
}

/** The one line printed for a failed command: `cutover: CODE: message`. */
export function failureLine(error: unknown): string {
  const message = errorMessage(error).replace(/\s*\n\s*/g, " ");
  const code = error instanceof CutoverError || error instanceof RemoteError ? error.code : undefined;
  return code === undefined ? `cutover: ${message}` : `cutover: ${code}: ${message}`;
}

/** Rows as left-aligned columns separated by two spaces (the first row is the header). */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(0, ...rows.map((row) => row[i]?.length ?? 0)));
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "),
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export interface ProgressLine {
  update(done: number, total: number, detail?: string): void;
  done(): void;
}

/** A self-overwriting progress line on a terminal's stderr; silent when stderr is not a terminal. */
export function progressLine(label: string, options: OutputOptions): ProgressLine {
  const stream = process.stderr;
  if (options.json || !stream.isTTY) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let shown = false;
  return {
    update(done, total, detail) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
      const text = `${label} ${percent}% ${formatBytes(done)}/${formatBytes(total)}${detail ? `  ${detail}` : ""}`;
      stream.write(`\r\x1b[2K${text.slice(0, (stream.columns || 100) - 1)}`);
    },
    done() {
      if (shown) stream.write("\r\x1b[2K");
      shown = false;
    },
  };
}
