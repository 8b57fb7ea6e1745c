/**
 * The controller as an AWS Lambda function (API Gateway HTTP API or a function URL): the same Hono
 * app as the server. An EventBridge scheduled event (infra/lambda/template.yaml, `Reconcile`) runs
 * one reconcile pass instead: the tick that advances progressive rollouts, which a server runs on an
 * interval. Configuration is read once per cold start from the environment; connections are kept
 * across invocations of a warm instance.
 */
import { handle } from "hono/aws-lambda";
import { parseControllerConfig } from "../core/config.js";
import { type Controller, createController } from "./controller.js";

let controller: Promise<Controller> | undefined;

function instance(): Promise<Controller> {
  controller ??= createController(parseControllerConfig(process.env)).catch((error: unknown) => {
    controller = undefined;
    throw error;
  });
  return controller;
}

type LambdaHandler = ReturnType<typeof handle>;
type HttpArgs = Parameters<LambdaHandler>;

/** What one scheduled invocation did: the models whose rollout it acted on, and where each stands. */
export interface ReconcileAnswer {
  readonly reconciled: { model: string; state: string; weight: number; message: string }[];
}

/** An EventBridge (CloudWatch Events) scheduled event, as Lambda delivers it. */
export function isScheduledEvent(event: unknown): boolean {
  if (typeof event !== "object" || event === null) return false;
  const fields = event as Record<string, unknown>;
  return fields.source === "aws.events" && fields["detail-type"] === "Scheduled Event";
}

export const handler = async (
  event: HttpArgs[0] | Record<string, unknown>,
  context?: HttpArgs[1],
): Promise<Awaited<ReturnType<LambdaHandler>> | ReconcileAnswer> => {
  const { app, progressive } = await instance();
  if (isScheduledEvent(event)) {
    const views = await progressive.tickAll();
    return {
      reconciled: views.map((view) => ({
        model: view.model,
        state: view.state,
        weight: view.weight,
        message: view.message,
      })),
    };
  }
  return handle(app)(event as HttpArgs[0], context as HttpArgs[1]);
};
