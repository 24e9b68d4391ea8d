// deploy-certificate: "Deploy now" — the deployment tasks again with the current version,
// without renewing; answers with each task's result.
import { CertificateCommandPayloadSchema } from "../../protocol/certificates";
import { payloadError, type Handler } from "./types";

export const deployCertificate: Handler = async (payload, { certificates }) => {
  const parsed = CertificateCommandPayloadSchema.safeParse(payload);
  if (!parsed.success) return payloadError('{"certificateId": "…"}');
  const id = parsed.data.certificateId;
  try {
    const results = certificates ? await certificates.deploy(id) : null;
    if (!results) return { status: "failed", message: `this agent has no managed certificate ${id}` };
    const failed = results.filter((r) => r.lastResult.outcome === "failed");
    if (failed.length) return { status: "failed", message: `${failed.length} of ${results.length} task(s) failed: ${failed[0].lastResult.message}`, data: { tasks: results } };
    return { status: "succeeded", message: `ran ${results.length} task(s)`, data: { tasks: results } };
  } catch (err) {
    return { status: "failed", message: err instanceof Error ? err.message : String(err) };
  }
};
