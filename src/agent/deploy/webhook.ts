// Webhook task: POST a JSON event about the certificate to a URL. With a stored credential the
// request carries `X-Certhub-Signature: sha256=<hex HMAC-SHA256 of the exact body>` keyed by the
// credential's secret value (token or password), so the receiver can check it came from us.
// Redirects are not followed (the signed event goes only where the task says). The secret never
// appears in the URL, the message or the log.
import { createHmac } from "node:crypto";
import type { WebhookTaskSchema } from "../../protocol/certificates";
import type { z } from "zod";
import { credentialSecret, TaskError, type DeployOutcome, type TaskOutput, type TaskRun } from "./types";

type WebhookTask = z.infer<typeof WebhookTaskSchema>;

const DEFAULT_TIMEOUT_SECONDS = 10;

export const WEBHOOK_EVENTS: Record<DeployOutcome, string> = {
  success: "certificate.renewed",
  failure: "certificate.failed",
  manual: "certificate.deployed",
};

export interface WebhookEvent {
  event: string;
  certificateId: string | null;
  name: string | null;
  instanceId: string | null;
  domains: string[];
  serial: string | null;
  notBefore: number | null;
  notAfter: number | null;
  outcome: DeployOutcome;
  at: number;
}

export function webhookEvent(run: TaskRun, at = Date.now()): WebhookEvent {
  const c = run.cert;
  return {
    event: WEBHOOK_EVENTS[run.outcome],
    certificateId: c?.id ?? null,
    name: c?.name ?? null,
    instanceId: run.ctx.instanceId ?? null,
    domains: c?.domains ?? [],
    serial: c?.serial ?? null,
    notBefore: c?.notBefore ?? null,
    notAfter: c?.notAfter ?? null,
    outcome: run.outcome,
    at,
  };
}

export function signBody(body: string, secret: string): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

export async function sendWebhook(task: WebhookTask, run: TaskRun): Promise<TaskOutput> {
  const body = JSON.stringify(webhookEvent(run));
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "certhub-agent", "x-certhub-event": WEBHOOK_EVENTS[run.outcome] };
  if (task.secretCredentialId) headers["x-certhub-signature"] = signBody(body, credentialSecret(run.ctx.credentials.get(task.secretCredentialId), task.secretCredentialId, "webhook secret"));
  const timeoutMs = (task.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const target = safeUrl(task.url);
  let res: Response;
  try {
    res = await fetch(task.url, { method: "POST", body, headers, redirect: "manual", signal: AbortSignal.any([run.signal, AbortSignal.timeout(timeoutMs)]) });
  } catch (e: any) {
    const why = e?.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000}s` : e?.name === "AbortError" ? "cancelled" : (e?.code ?? e?.message ?? String(e));
    throw new TaskError(`POST ${target} failed: ${why}`);
  }
  const text = await res.text().catch(() => "");
  const snippet = text.slice(0, 1000);
  if (res.status >= 200 && res.status < 300) return { message: `POST ${target} → ${res.status}`, output: snippet || undefined };
  const hint = res.status >= 300 && res.status < 400 ? ` (redirect to ${res.headers.get("location") ?? "?"} not followed)` : "";
  throw new TaskError(`POST ${target} → ${res.status}${hint}${snippet ? `: ${snippet.slice(0, 200)}` : ""}`, snippet || undefined);
}

/** The URL without userinfo or query (which may hold tokens) for messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
