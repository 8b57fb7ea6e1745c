/**
 * The CLI's client for the controller's /v1 API: JSON in, JSON out, a bearer token, over node:http
 * or node:https. Every call has an explicit deadline (fetch's own 300 s headers timeout would cut a
 * long rollout short whatever `--timeout` said). A refusal from the controller becomes a
 * {@link RemoteError} carrying the controller's code, message and per-node reasons.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { NodeReason } from "../../core/errors.js";
import { redactUrl } from "../../core/redact.js";

export const CONTROLLER_UNREACHABLE = "CONTROLLER_UNREACHABLE";

export class RemoteError extends Error {
  override readonly name = "RemoteError";
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly nodes: readonly NodeReason[] = [],
    /** The controller took the request but did not answer within the call's deadline. */
    readonly noAnswer = false,
  ) {
    super(message);
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; nodes?: unknown };
}

export interface CallOptions {
  /** How long to wait for the whole answer; the client's default when absent. */
  readonly timeoutMs?: number;
}

interface RawAnswer {
  readonly status: number;
  readonly text: string;
}

class NoAnswerError extends Error {}

export class ControllerClient {
  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    /** The deadline of a call that names none. */
    private readonly defaultTimeoutMs: number,
  ) {}

  get<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.request<T>("GET", path, undefined, options);
  }

  post<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.request<T>("POST", path, body, options);
  }

  private async request<T>(method: string, path: string, body: unknown, options: CallOptions): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    let answer: RawAnswer;
    try {
      answer = await this.exchange(method, new URL(path, this.url), body, timeoutMs);
    } catch (error) {
      const where = `cannot reach the controller at ${redactUrl(this.url)}`;
      if (error instanceof NoAnswerError) {
        throw new RemoteError(
          CONTROLLER_UNREACHABLE,
          `${where}: ${method} ${path}: no answer within ${formatSeconds(timeoutMs)}`,
          0,
          [],
          true,
        );
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new RemoteError(CONTROLLER_UNREACHABLE, `${where} (${reason}); set CUTOVER_URL`, 0);
    }
    return parseAnswer<T>(method, path, answer);
  }

  private exchange(method: string, url: URL, body: unknown, timeoutMs: number): Promise<RawAnswer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: "application/json" };
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = payload.length;
    }
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<RawAnswer>((resolve, reject) => {
      const request = send(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ""),
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method,
          headers,
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", (error) => {
            clearTimeout(deadline);
            reject(error);
          });
          response.on("end", () => {
            clearTimeout(deadline);
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
          });
        },
      );
      const deadline = setTimeout(() => {
        reject(new NoAnswerError());
        request.destroy();
      }, timeoutMs);
      request.on("error", (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      request.end(payload);
    });
  }
}

function parseAnswer<T>(method: string, path: string, { status, text }: RawAnswer): T {
  let json: unknown;
  try {
    json = text === "" ? {} : JSON.parse(text);
  } catch {
    throw new RemoteError("BAD_RESPONSE", `${method} ${path}: HTTP ${status}, not JSON: ${text.slice(0, 120)}`, status);
  }
  if (status < 200 || status > 299) {
    const error = (json as ErrorBody).error;
    const code = typeof error?.code === "string" ? error.code : `HTTP_${status}`;
    const message = typeof error?.message === "string" ? error.message : `${method} ${path} failed with HTTP ${status}`;
    const nodes = Array.isArray(error?.nodes) ? (error.nodes as NodeReason[]) : [];
    throw new RemoteError(code, message, status, nodes);
  }
  return json as T;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
