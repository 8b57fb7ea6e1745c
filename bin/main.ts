/**
 * The `cutover` command line: parses the configuration once from the environment and hands it to
 * the commands. Exit codes (controller/cli/exit-code.ts): 0 success, 1 the operation failed (one line
 * on stderr says why), 2 the command line itself was wrong, 3 activate/rollback moved the pointer but
 * not every node that staged the version confirmed serving it.
 */
import { Command, CommanderError } from "commander";
import type { CliContext } from "../controller/cli/context.js";
import { ExitCode, exitCodeOf } from "../controller/cli/exit-code.js";
import { integerFlag } from "../controller/cli/flag-parsers.js";
import { registerOpsCommands } from "../controller/cli/ops-commands.js";
import { failureLine } from "../controller/cli/output.js";
import { registerRegistryCommands } from "../controller/cli/registry-commands.js";
import { registerSigningCommands } from "../controller/cli/signing-commands.js";
import { parseArtifactConfig } from "../core/config.js";
import { InputError } from "../core/errors.js";
import { packageVersion } from "../core/package-version.js";
import { registerNodeCommand } from "../inference/cli.js";
import { devBanner, startDev } from "./dev.js";

function registerDevCommand(program: Command): void {
  program
    .command("dev")
    .description("run the controller and inference node(s) in one process: no Redis, no S3 (what `npm start` runs)")
    .option("--nodes <n>", "how many inference nodes", integerFlag("--nodes", 1, 16), 1)
    .option("--port <port>", "the controller's port", integerFlag("--port", 0, 65535), 8700)
    .option(
      "--node-port <port>",
      "the first node's port (the others follow)",
      integerFlag("--node-port", 0, 65535),
      8080,
    )
    .option("--dir <dir>", "where state, versions, keys and caches live", ".cutover")
    .option("--host <address>", "the address the controller and nodes listen on (0.0.0.0: every address)", "127.0.0.1")
    .action(async (flags: { nodes: number; port: number; nodePort: number; dir: string; host: string }) => {
      if (flags.host.trim() === "") throw new InputError("--host must not be empty");
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const dev = await startDev({
        dir: flags.dir,
        host: flags.host,
        nodes: flags.nodes,
        port: flags.port,
        nodePort: flags.nodePort,
        log,
      });
      for (const line of devBanner(dev, flags.dir)) process.stdout.write(`${line}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          log("cutover dev: stopping");
          void dev.close().then(resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const program = new Command("cutover")
    .description("blue/green deployment of ONNX models: signed versions, one-command flips and rollbacks")
    .version(packageVersion(), "-V, --version", "print the cutover version")
    .enablePositionalOptions()
    .showHelpAfterError("(run cutover --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    const context: CliContext = { config: parseArtifactConfig(env), env };
    registerSigningCommands(program, context);
    registerRegistryCommands(program, context);
    registerOpsCommands(program, context);
    registerNodeCommand(program, env, packageVersion());
    registerDevCommand(program);
    await program.parseAsync(argv, { from: "node" });
    return ExitCode.Ok;
  } catch (error) {
    // Commander has already printed its own message (or the help).
    if (!(error instanceof CommanderError)) process.stderr.write(`${failureLine(error)}\n`);
    return exitCodeOf(error);
  }
}

/**
 * A reader that went away (`cutover history demo | head -1`) is not a failure: like other Unix tools,
 * cutover prints nothing about it. What is left to print is dropped and the command ends as it would
 * have, with its own exit code. Any other stream error is still thrown.
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
  }
}

ignoreClosedPipes();
process.exitCode = await main(process.argv, process.env);
