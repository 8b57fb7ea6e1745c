/**
 * The controller as an AWS Lambda function (API Gateway HTTP API or a function URL): the same Hono
 * app as the server. Configuration is read once per cold start from the environment; connections
 * are kept across invocations of a warm instance.
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

export const handler = async (...args: Parameters<LambdaHandler>): Promise<Awaited<ReturnType<LambdaHandler>>> => {
  const { app } = await instance();
  return handle(app)(...args);
};
