// The one list of command types the agent executes: add a line here when adding one.
import { deployCertificate } from "./deploy-certificate";
import { ping } from "./ping";
import { refreshExternalScan } from "./refresh-external-scan";
import { renewCertificate } from "./renew-certificate";
import { renewNow } from "./renew-now";
import { runScript } from "./run-script";
import { testCertificate } from "./test-certificate";
import { testTask } from "./test-task";
import type { Handler } from "./types";
import { updateSettings } from "./update-settings";

export const HANDLERS: Readonly<Record<string, Handler>> = {
  ping,
  "renew-now": renewNow,
  "renew-certificate": renewCertificate,
  "test-certificate": testCertificate,
  "deploy-certificate": deployCertificate,
  "test-task": testTask,
  "refresh-external-scan": refreshExternalScan,
  "update-settings": updateSettings,
  "run-script": runScript,
};

export function handlerFor(type: string): Handler | undefined {
  return Object.hasOwn(HANDLERS, type) ? HANDLERS[type] : undefined;
}
