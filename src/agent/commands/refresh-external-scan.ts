// refresh-external-scan: scan the external ACME clients (certbot, acme.sh, …) now.
import type { Handler } from "./types";

export const refreshExternalScan: Handler = async (_payload, { external }) => {
  if (!external) return { status: "succeeded", message: "external certificate scanning is not running on this agent; nothing to scan", data: { scanned: 0 } };
  const scan = await external.scanNow(true);
  const found = scan.managers.filter((m) => m.status === "ok" || m.status === "error");
  const summary = scan.managers.map((m) => `${m.name} ${m.status}${m.status === "ok" ? ` (${m.certificateCount})` : ""}`).join(", ");
  if (found.length === 0) return { status: "succeeded", message: `no external certificate manager found on this host; nothing to scan (${summary})`, data: { scanned: 0, managers: scan.managers } };
  return { status: "succeeded", message: `scanned: ${scan.certificates.length} certificate(s); ${summary}`, data: { scanned: scan.certificates.length, managers: scan.managers } };
};
