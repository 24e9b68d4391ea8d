// test-task: "Test task" — runs one deployment task ({certificateId, index}) alone with the
// current certificate and answers with its result (outcome, message, output tail); the result is
// also kept as that task's lastTest in the certificate report.
import { TestTaskPayloadSchema } from "../../protocol/certificates";
import { payloadError, type Handler } from "./types";

export const testTask: Handler = async (payload, { certificates }) => {
  const parsed = TestTaskPayloadSchema.safeParse(payload);
  if (!parsed.success) return payloadError('{"certificateId": "…", "index": 0}');
  const { certificateId, index } = parsed.data;
  try {
    const result = certificates ? await certificates.testTask(certificateId, index) : null;
    if (!result) return { status: "failed", message: `this agent has no managed certificate ${certificateId}` };
    const r = result.lastResult;
    const label = `task ${index + 1} (${result.name ? `${result.type} "${result.name}"` : result.type})`;
    return { status: r.outcome === "failed" ? "failed" : "succeeded", message: `${label} ${r.outcome}: ${r.message}`.slice(0, 4000), data: { task: result } };
  } catch (err) {
    return { status: "failed", message: err instanceof Error ? err.message : String(err) };
  }
};
