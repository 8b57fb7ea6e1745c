/**
 * The active pointer in AWS SSM Parameter Store: one String parameter per model, `<path>/<model>`,
 * holding the pointer as JSON. Writes overwrite (the Redis rollout lock serializes writers); SSM's
 * own version number is kept by SSM and not relied on.
 */
import { GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
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
}

export class SsmPointerStore implements PointerStore {
  readonly location: string;
  private readonly client: SSMClient;
  private readonly path: string;

  constructor(options: SsmPointerStoreOptions) {
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(options.path)) {
      throw new ConfigError(
        `SSM path ${JSON.stringify(options.path)} must look like /cutover/models (letters, digits, _ . -)`,
      );
    }
    this.path = options.path;
    this.location = `ssm:${options.path}`;
    this.client = new SSMClient({
      region: options.region ?? "us-east-1",
      maxAttempts: 3,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  private name(model: string): string {
    return `${this.path}/${assertModelName(model)}`;
  }

  async read(model: string): Promise<Pointer | undefined> {
    try {
      const { Parameter } = await this.client.send(new GetParameterCommand({ Name: this.name(model) }));
      if (Parameter?.Value === undefined) return undefined;
      return parseStored(pointerSchema, Parameter.Value, `SSM parameter ${this.name(model)}`);
    } catch (error) {
      if (error instanceof ParameterNotFound) return undefined;
      if (error instanceof StateError) throw error;
      throw new StateError(ErrorCode.StateUnreachable, `read ${this.name(model)} from SSM: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  async write(model: string, pointer: Pointer): Promise<void> {
    try {
      await this.client.send(
        new PutParameterCommand({
          Name: this.name(model),
          Type: "String",
          Value: JSON.stringify(pointer),
          Overwrite: true,
        }),
      );
    } catch (error) {
      throw new StateError(ErrorCode.StateUnreachable, `write ${this.name(model)} to SSM: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  close(): void {
    this.client.destroy();
  }
}
