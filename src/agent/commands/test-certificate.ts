// test-certificate: runs the preflight (no CA involved) and answers with its per-domain steps;
// the result is also recorded in the certificate's attempts.
import { CertificateCommandPayloadSchema } from "../../protocol/certificates";
import { payloadError, type Handler } from "./types";

export const testCertificate: Handler = async (payload, { certificates }) => {
  const parsed = CertificateCommandPayloadSchema.safeParse(payload);
  if (!parsed.success) return payloadError('{"certificateId": "…"}');
  const attempt = certificates ? await certificates.test(parsed.data.certificateId) : null;
  if (!attempt) return { status: "failed", message: `this agent has no managed certificate ${parsed.data.certificateId}` };
  return { status: attempt.outcome === "succeeded" ? "succeeded" : "failed", message: attempt.message, data: { steps: attempt.steps } };
};
