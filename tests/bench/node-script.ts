/** Runs a benchmark helper in a Node process of its own and parses the one JSON line it prints. */
import { spawn } from "node:child_process";

interface RunningScript<T> {
  /** The parsed JSON line once the process exits 0; rejects with its stderr otherwise. */
  readonly result: Promise<T>;
  /** Asks the process to finish (SIGTERM) and waits for its result. */
  stop(): Promise<T>;
}

/** Starts `node ARGS…`; the script prints its result when done or when it gets SIGTERM. */
export function startNodeScript<T>(args: readonly string[], env?: NodeJS.ProcessEnv): RunningScript<T> {
  const child = spawn(process.execPath, [...args], {
    cwd: `${import.meta.dirname}/../..`,
    env: env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const result = new Promise<T>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`${args.join(" ")} exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as T);
    });
  });
  return {
    result,
    stop() {
      child.kill("SIGTERM");
      return result;
    },
  };
}

/** Runs `node ARGS…` to its end and returns the JSON line it printed. */
export function runNodeScript<T>(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<T> {
  return startNodeScript<T>(args, env).result;
}
