/**
 * The scale bench's light node agents, spread over a few child processes (tests/bench/agent-process.ts)
 * so that hundreds of them do not share the bench's event loop, and the controller — a process of
 * its own — is not starved by them. Agents are added round-robin and stay until `stop`.
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { type AgentSettings, type PoolReply, type PoolRequest, poolReplySchema } from "./agent-protocol.js";

const AGENT_PROCESS = join(import.meta.dirname, "agent-process.ts");

class AgentProcess {
  private readonly waiting: ((reply: PoolReply) => void)[] = [];
  private exited = false;

  constructor(readonly child: ChildProcess) {
    child.on("message", (raw: unknown) => {
      const parsed = poolReplySchema.safeParse(raw);
      const reply: PoolReply = parsed.success ? parsed.data : { type: "failed", reason: "unparsable reply" };
      this.waiting.shift()?.(reply);
    });
    child.on("exit", (code) => {
      this.exited = true;
      for (const resolve of this.waiting.splice(0)) resolve({ type: "failed", reason: `exited (${code})` });
    });
  }

  ask(request: PoolRequest): Promise<PoolReply> {
    if (this.exited) return Promise.resolve({ type: "failed", reason: "exited" });
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send(request);
    });
  }
}

export class AgentPool {
  private readonly processes: AgentProcess[];
  private next = 0;

  private constructor(
    count: number,
    private readonly settings: AgentSettings,
  ) {
    this.processes = Array.from(
      { length: count },
      () =>
        new AgentProcess(
          fork(AGENT_PROCESS, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] }),
        ),
    );
  }

  static start(processes: number, settings: AgentSettings): AgentPool {
    if (!Number.isInteger(processes) || processes < 1) throw new Error(`agent processes: ${processes}`);
    return new AgentPool(processes, settings);
  }

  /** Starts agents serving `model`, dealt round-robin to the processes; resolves once all heartbeat. */
  async add(model: string, nodeIds: readonly string[], spreadMs: number): Promise<void> {
    const shares = this.processes.map((): string[] => []);
    for (const nodeId of nodeIds) {
      shares[this.next]?.push(nodeId);
      this.next = (this.next + 1) % this.processes.length;
    }
    const replies = await Promise.all(
      this.processes.map((agentProcess, i) =>
        agentProcess.ask({ type: "add", settings: this.settings, model, nodeIds: shares[i] ?? [], spreadMs }),
      ),
    );
    const failed = replies.find((reply) => reply.type === "failed");
    if (failed?.type === "failed") throw new Error(`agents did not start: ${failed.reason}`);
  }

  /** Every agent deregisters and closes its connections; the processes exit. */
  async stop(): Promise<void> {
    await Promise.all(this.processes.map((agentProcess) => agentProcess.ask({ type: "stop" })));
    for (const { child } of this.processes) if (child.exitCode === null) child.kill();
  }
}
