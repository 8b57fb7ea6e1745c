/**
 * The ops commands, talking to a running controller (CUTOVER_URL, CUTOVER_TOKEN): `activate`,
 * `rollback`, `status`, `history`, `nodes`, and `controller` to run one. A rollout that moved the
 * pointer without every staged node's confirmation prints its result, then fails with
 * PROMOTE_UNCONFIRMED (exit 3).
 */
import { type Command, Option } from "commander";
import { parseClientConfig, parseControllerConfig } from "../../core/config.js";
import { ErrorCode, InputError, RolloutError } from "../../core/errors.js";
import type { HistoryEntry, ModelState, NodeRecord } from "../../core/model-state.js";
import { redactUrl } from "../../core/redact.js";
import type { ProgressView } from "../progressive/progressive-runner.js";
import type { RolloutResult } from "../rollout-result.js";
import { startControllerServer } from "../server.js";
import { CONTROLLER_UNREACHABLE, ControllerClient, RemoteError } from "./api-client.js";
import type { CliContext } from "./context.js";
import { ROLLOUT_EXIT_CODES } from "./exit-code.js";
import { integerFlag, rateFlag, secondsFlag } from "./flag-parsers.js";
import { formatTable, printResult } from "./output.js";
import {
  followRollout,
  registerProgressiveCommands,
  type StrategyFlags,
  strategyBody,
  withStrategyOptions,
} from "./progressive-commands.js";
import { progressLines } from "./progressive-view.js";
import { historyLines, type ModelDetail, modelDetailLines, rolloutLines } from "./rollout-view.js";

/** The controller's own default rollout timeout, for a rollback (which takes no --timeout). */
const DEFAULT_ROLLOUT_TIMEOUT_MS = 120_000;

interface Client {
  readonly api: ControllerClient;
  /** CUTOVER_CLIENT_TIMEOUT_MS: a read's deadline, and a rollout's margin for promote and confirm. */
  readonly timeoutMs: number;
}

function client(context: CliContext, needsToken: boolean): Client {
  const config = parseClientConfig(context.env);
  if (needsToken && config.token === undefined) {
    throw new InputError("changes need a bearer token: set CUTOVER_TOKEN (one of the controller's CUTOVER_TOKENS)");
  }
  return { api: new ControllerClient(config.url, config.token, config.timeoutMs), timeoutMs: config.timeoutMs };
}

/** While a rollout waits on nodes, a terminal shows how many have staged the target. */
function watchStaging(api: ControllerClient, model: string, target: () => string | undefined): () => void {
  if (!process.stderr.isTTY) return () => undefined;
  const timer = setInterval(() => {
    void api
      .get<ModelDetail>(`/v1/models/${model}`)
      .then(({ nodes, state }) => {
        const version = target() ?? state.rollout?.target;
        const staged = nodes.filter((node) => {
          const status = node.models[model];
          return status?.staged?.version === version && status?.staged?.state === "staged";
        }).length;
        process.stderr.write(`\r\x1b[2Kactivating ${model} → ${version}: nodes staged ${staged}/${nodes.length}`);
      })
      .catch(() => undefined);
  }, 500);
  return () => {
    clearInterval(timer);
    process.stderr.write("\r\x1b[2K");
  };
}

async function runRollout(
  context: CliContext,
  model: string,
  path: string,
  body: object,
  target: string | undefined,
  json: boolean,
  rolloutTimeoutMs: number,
) {
  const { api, timeoutMs } = client(context, true);
  const stop = json ? () => undefined : watchStaging(api, model, () => target);
  let result: RolloutResult;
  try {
    result = await api.post<RolloutResult>(path, body, { timeoutMs: rolloutTimeoutMs + timeoutMs });
  } catch (error) {
    if (error instanceof RemoteError && error.noAnswer) {
      throw new RemoteError(
        CONTROLLER_UNREACHABLE,
        `${error.message}; the rollout may still be running: check with cutover status ${model}`,
        0,
        [],
        true,
      );
    }
    throw error;
  } finally {
    stop();
  }
  printResult({ json }, result, () => rolloutLines(result));
  // Printed first, then refused: the pointer moved, but a pipeline must not read this as "served".
  if (result.fullyConfirmed === false) {
    const missing = result.nodes.filter((node) => result.unconfirmed.includes(node.nodeId));
    throw new RolloutError(
      ErrorCode.PromoteUnconfirmed,
      `${result.model} → ${result.to} at revision ${result.revision}, but ${missing.length} of ${result.nodes.length} node(s) did not confirm serving it: ${result.unconfirmed.join(", ")}`,
      { nodes: missing, ...(result.rolloutId !== null ? { rolloutId: result.rolloutId } : {}) },
    );
  }
}

interface NodeFlags {
  allowNoNodes?: boolean;
  minNodes?: number;
}

/** --allow-no-nodes and --min-nodes, as activate and rollback both take them. */
function withNodeOptions(command: Command): Command {
  return command
    .option("--allow-no-nodes", "go ahead with no live node serving MODEL (sets the pointer before a fleet starts)")
    .option(
      "--min-nodes <n>",
      "refuse unless at least N live nodes serve MODEL (default 1)",
      integerFlag("--min-nodes", 1),
    )
    .addHelpText("after", ROLLOUT_EXIT_CODES);
}

function nodeBody(flags: NodeFlags): NodeFlags {
  return {
    ...(flags.allowNoNodes ? { allowNoNodes: true } : {}),
    ...(flags.minNodes !== undefined ? { minNodes: flags.minNodes } : {}),
  };
}

export function registerOpsCommands(program: Command, context: CliContext): void {
  withNodeOptions(
    withStrategyOptions(
      program
        .command("activate <model> <version>")
        .description(
          "make VERSION the active version of MODEL on every node (two-phase, fleet-wide; progressively with --canary or --linear)",
        )
        .addOption(
          new Option("--timeout <seconds>", "how long nodes may take to stage it")
            .argParser(secondsFlag("--timeout", 0.1, 3600))
            .default(DEFAULT_ROLLOUT_TIMEOUT_MS, String(DEFAULT_ROLLOUT_TIMEOUT_MS / 1000)),
        )
        .option("--allow-incompatible", "activate even if its inputs/outputs do not fit the active version's")
        .option(
          "--max-replay-divergence <rate>",
          "refuse VERSION on a node where more of the recent requests replayed on it answer outside its tolerance of the active version's outputs than this (0.05 or 5%; default: report only)",
          rateFlag("--max-replay-divergence"),
        )
        .option(
          "--expect-revision <n>",
          "refuse unless the model is at this revision",
          integerFlag("--expect-revision", 0),
        ),
    ),
  )
    .option("--json", "print the result as JSON")
    .action(
      async (
        model: string,
        version: string,
        flags: NodeFlags &
          StrategyFlags & {
            timeout: number;
            allowIncompatible?: boolean;
            maxReplayDivergence?: number;
            expectRevision?: number;
            json?: boolean;
          },
      ) => {
        const strategy = strategyBody(flags);
        const body = {
          version,
          timeoutMs: flags.timeout,
          ...(flags.allowIncompatible ? { allowIncompatible: true } : {}),
          ...(flags.maxReplayDivergence !== undefined ? { maxReplayDivergence: flags.maxReplayDivergence } : {}),
          ...(flags.expectRevision !== undefined ? { expectRevision: flags.expectRevision } : {}),
          ...nodeBody(flags),
          ...strategy,
        };
        if (Object.keys(strategy).length > 0) {
          const { api, timeoutMs } = client(context, true);
          const view = await api.post<ProgressView>(`/v1/models/${encodeURIComponent(model)}/activate`, body, {
            timeoutMs: flags.timeout + timeoutMs,
          });
          if (view.state !== "progressing" || flags.manual) {
            printResult({ json: flags.json ?? false }, view, () => progressLines(view));
            if (view.state === "rolled-back" || view.state === "aborted") {
              throw new RolloutError(
                ErrorCode.RolloutAborted,
                `${model}/${version} did not go ahead: ${view.reason ?? ""}`,
                {
                  rolloutId: view.rolloutId,
                },
              );
            }
            return;
          }
          await followRollout(api, view, flags.json ?? false);
          return;
        }
        await runRollout(
          context,
          model,
          `/v1/models/${encodeURIComponent(model)}/activate`,
          body,
          version,
          flags.json ?? false,
          flags.timeout,
        );
      },
    );

  withNodeOptions(
    program
      .command("rollback <model>")
      .description("activate the previous version of MODEL again (instant while it is still warm on the nodes)")
      .option("--to <version>", "roll back to this version instead of the previous one"),
  )
    .option("--json", "print the result as JSON")
    .action(async (model: string, flags: NodeFlags & { to?: string; json?: boolean }) => {
      const body = { ...(flags.to ? { to: flags.to } : {}), ...nodeBody(flags) };
      await runRollout(
        context,
        model,
        `/v1/models/${encodeURIComponent(model)}/rollback`,
        body,
        flags.to,
        flags.json ?? false,
        DEFAULT_ROLLOUT_TIMEOUT_MS,
      );
    });

  registerProgressiveCommands(program, (needsToken) => client(context, needsToken).api);

  program
    .command("status [model]")
    .description("the active version, revision and rollout of every model, or of one with its nodes")
    .option("--json", "print the result as JSON")
    .action(async (model: string | undefined, flags: { json?: boolean }) => {
      const { api } = client(context, false);
      if (model === undefined) {
        const { models } = await api.get<{
          models: { model: string; state: ModelState; nodes: { live: number; onActive: number } }[];
        }>("/v1/models");
        printResult(flags, { models }, () =>
          formatTable([
            ["MODEL", "ACTIVE", "PREVIOUS", "REVISION", "ROLLOUT", "NODES ON ACTIVE"],
            ...models.map(({ model: name, state, nodes }) => [
              name,
              state.active ?? "-",
              state.previous ?? "-",
              String(state.revision),
              state.rollout
                ? `→ ${state.rollout.target} (${state.rollout.progressive ? `${state.rollout.progressive.weight} %` : state.rollout.phase})`
                : "-",
              `${nodes.onActive}/${nodes.live}`,
            ]),
          ]),
        );
        return;
      }
      const detail = await api.get<ModelDetail>(`/v1/models/${encodeURIComponent(model)}`);
      printResult(flags, detail, () => modelDetailLines(detail));
    });

  program
    .command("history <model>")
    .description("every activation, rollback and abort of MODEL, newest first")
    .option("--limit <n>", "how many entries", integerFlag("--limit", 1, 1000), 20)
    .option("--json", "print the result as JSON")
    .action(async (model: string, flags: { limit: number; json?: boolean }) => {
      const { history } = await client(context, false).api.get<{ history: HistoryEntry[] }>(
        `/v1/models/${encodeURIComponent(model)}/history?limit=${flags.limit}`,
      );
      printResult(flags, { model, history }, () => historyLines(history));
    });

  program
    .command("nodes")
    .description("live inference nodes (their heartbeat has not expired)")
    .option("--json", "print the result as JSON")
    .action(async (flags: { json?: boolean }) => {
      const { nodes } = await client(context, false).api.get<{ nodes: NodeRecord[] }>("/v1/nodes");
      printResult(flags, { nodes }, () =>
        formatTable([
          ["NODE", "URL", "PROVIDER", "MODELS", "UPDATED"],
          ...nodes.map((node) => [
            node.nodeId,
            node.url,
            node.executionProvider,
            Object.entries(node.models)
              .map(([name, status]) => `${name}@${status.active ?? "-"}`)
              .join(" ") || "-",
            node.updatedAt,
          ]),
        ]),
      );
    });

  program
    .command("controller")
    .description("run the controller: the /v1 HTTP API and the dashboard (/) over Redis state and the object store")
    .action(async () => {
      const config = parseControllerConfig(context.env);
      const running = await startControllerServer(config);
      process.stderr.write(
        `cutover controller listening on :${running.port} (Redis ${redactUrl(config.redisUrl)}, store ${config.store.kind === "s3" ? `s3://${config.store.bucket}` : config.store.dir}); dashboard at http://127.0.0.1:${running.port}/ on this machine\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.stderr.write("cutover controller: shutting down\n");
          void running.close().then(resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
