/** Runs the real `cutover` CLI (from source, through tsx) as a child process. */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(import.meta.dirname, "../..");

/**
 * tsx's loader as a URL for `--import`: a bare `tsx` is resolved from the child's working directory,
 * and a CLI run in a temp folder (to see relative paths as a user would) has no node_modules there.
 */
export const TSX_IMPORT = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `env` is added to a copy of this process's environment with every CUTOVER_* variable removed. */
export function runCli(args: readonly string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("CUTOVER_")));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", TSX_IMPORT, join(ROOT, "bin/main.ts"), ...args], {
      cwd,
      env: { ...base, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
