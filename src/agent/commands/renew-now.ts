// renew-now: order now, whatever the plan or the last preflight says — every managed
// certificate, or one ({certificateId}). Returns once the orders are queued; their outcome
// reaches the hub in the certificate reports.
import { RenewNowPayloadSchema } from "../../protocol/certificates";
import { payloadError, type Handler, type HandlerContext, type HandlerResult } from "./types";

export async function queueRenewals(certificates: HandlerContext["certificates"], certificateId?: string): Promise<HandlerResult> {
  const ids = certificates ? await certificates.renewNow(certificateId) : [];
  if (certificateId && ids.length === 0) return { status: "failed", message: `this agent has no managed certificate ${certificateId} (not synced yet, or deleted?)` };
  if (ids.length === 0) return { status: "succeeded", message: "nothing to renew: this agent manages no certificates yet", data: { renewed: 0 } };
  return { status: "succeeded", message: `renewal started for ${ids.length} certificate(s); results follow in the certificate status`, data: { renewed: ids.length, certificateIds: ids } };
}

export const renewNow: Handler = async (payload, { certificates }) => {
  const parsed = RenewNowPayloadSchema.safeParse(payload ?? {});
  if (!parsed.success) return payloadError('{} or {"certificateId": "…"}');
  return queueRenewals(certificates, parsed.data.certificateId);
};
