/**
 * The CLI's client for the controller's /v1 API. A refusal from the controller becomes a
 * {@link RemoteError} carrying the controller's code, message and per-node reasons.
 */
import type { NodeReason } from "../../core/errors.js";

export class RemoteError extends Error {
  override readonly name = "RemoteError";
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly nodes: readonly NodeReason[] = [],
  ) {
    super(message);
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; nodes?: unknown };
}

export class ControllerClient {
  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.url), {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new RemoteError(
        "CONTROLLER_UNREACHABLE",
        `cannot reach the controller at ${this.url} (${cause}); set CUTOVER_URL`,
        0,
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new RemoteError(
        "BAD_RESPONSE",
        `${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 120)}`,
        response.status,
      );
    }
    if (!response.ok) {
      const error = (json as ErrorBody).error;
      const code = typeof error?.code === "string" ? error.code : `HTTP_${response.status}`;
      const message =
        typeof error?.message === "string" ? error.message : `${method} ${path} failed with HTTP ${response.status}`;
      const nodes = Array.isArray(error?.nodes) ? (error.nodes as NodeReason[]) : [];
      throw new RemoteError(code, message, response.status, nodes);
    }
    return json as T;
  }
}
