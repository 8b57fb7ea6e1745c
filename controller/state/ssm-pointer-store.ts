/**
 * The active pointer in AWS SSM Parameter Store: one String parameter per model, `<path>/<model>`,
 * holding the pointer as JSON. Writes overwrite (the Redis rollout lock serializes writers); SSM's
 * own version number is kept by SSM and not relied on. Every call is bounded: an endpoint that does
 * not answer fails it with STATE_UNREACHABLE within `timeoutMs`, retries included.
 */
import { GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { DEFAULT_STATE_TIMEOUT_MS } from "../../core/config.js";
import { ConfigError, ErrorCode, errorMessage, StateError } from "../../core/errors.js";
import { parseStored } from "../../core/model-state.js";
import { assertModelName } from "../../core/names.js";
import { type Pointer, type PointerStore, pointerSchema } from "../../core/pointer-store.js";

export interface SsmPointerStoreOptions {
  /** Parameter path prefix, e.g. `/cutover/prod`; must start with `/`. */
  readonly path: string;
  readonly region?: string;
  /** A custom endpoint (LocalStack, a test server); AWS when absent. */
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The longest one read or write may take, retries included (default DEFAULT_STATE_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

/** Attempts per call: one retry for a throttled or failed request, within the call's deadline. */
const MAX_ATTEMPTS = 2;

export class SsmPointerStore implements PointerStore {
  readonly location: string;
  private readonly client: SSMClient;
  private readonly path: string;
  private readonly timeoutMs: number;

  constructor(options: SsmPointerStoreOptions) {
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(options.path)) {
      throw new ConfigError(
        `SSM path ${JSON.stringify(options.path)} must look like /cutover/models (letters, digits, _ . -)`,
      );
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_STATE_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new ConfigError(`SSM timeoutMs must be a positive integer of milliseconds, not ${timeoutMs}`);
    }
    this.path = options.path;
    this.timeoutMs = timeoutMs;
    this.location = `ssm:${options.path}`;
    this.client = new SSMClient({
      region: options.region ?? "us-east-1",
      maxAttempts: MAX_ATTEMPTS,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: timeoutMs,
        requestTimeout: timeoutMs,
        throwOnRequestTimeout: true,
      }),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  private name(model: string): string {
    return `${this.path}/${assertModelName(model)}`;
  }

  /**
   * Runs one SDK call under the deadline: the request is aborted when it passes, and the call fails
   * then whatever the SDK is still doing (resolving credentials, backing off before a retry).
   */
  private async bounded<T>(what: string, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new StateError(ErrorCode.StateUnreachable, `${what}: SSM did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([call(abort.signal), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  async read(model: string): Promise<Pointer | undefined> {
    const name = this.name(model);
    const what = `read ${name} from SSM`;
    try {
      const { Parameter } = await this.bounded(what, (abortSignal) =>
        this.client.send(new GetParameterCommand({ Name: name }), { abortSignal }),
      );
      if (Parameter?.Value === undefined) return undefined;
      return parseStored(pointerSchema, Parameter.Value, `SSM parameter ${name}`);
    } catch (error) {
      if (error instanceof ParameterNotFound) return undefined;
      if (error instanceof StateError) throw error;
      throw new StateError(ErrorCode.StateUnreachable, `${what}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async write(model: string, pointer: Pointer): Promise<void> {
    const name = this.name(model);
    const what = `write ${name} to SSM`;
    try {
      await this.bounded(what, (abortSignal) =>
        this.client.send(
          new PutParameterCommand({ Name: name, Type: "String", Value: JSON.stringify(pointer), Overwrite: true }),
          { abortSignal },
        ),
      );
    } catch (error) {
      if (error instanceof StateError) throw error;
      throw new StateError(ErrorCode.StateUnreachable, `${what}: ${errorMessage(error)}`, { cause: error });
    }
  }

  close(): void {
    this.client.destroy();
  }
}
