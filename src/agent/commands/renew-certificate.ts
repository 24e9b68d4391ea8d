// renew-certificate: the per-certificate "Renew now" ({certificateId}); orders anyway.
import { CertificateCommandPayloadSchema } from "../../protocol/certificates";
import { queueRenewals } from "./renew-now";
import { payloadError, type Handler } from "./types";

export const renewCertificate: Handler = async (payload, { certificates }) => {
  const parsed = CertificateCommandPayloadSchema.safeParse(payload);
  if (!parsed.success) return payloadError('{"certificateId": "…"}');
  return queueRenewals(certificates, parsed.data.certificateId);
};
