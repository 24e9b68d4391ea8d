// Host facts reported at join and on the first sync of each agent process.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import type { Facts } from "../protocol";
import { VERSION } from "../version";
import { machineIdOverride } from "./config";

let cached: Facts | null = null;

export function hostFacts(): Facts {
  if (cached) return cached;
  const machine = machineIdHint();
  cached = {
    hostname: (os.hostname() || "unknown").slice(0, 253),
    os: osName().slice(0, 64),
    arch: process.arch,
    version: VERSION,
    ...(machine ? { machineId: machine } : {}),
  };
  return cached;
}

function osName(): string {
  if (process.platform === "linux") {
    try {
      const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
      if (m) return m[1];
    } catch {}
    return `Linux ${os.release()}`;
  }
  if (process.platform === "darwin") return `macOS (Darwin ${os.release()})`;
  return `${os.type()} ${os.release()}`;
}

/**
 * A salted hash of the OS machine id: a hint that lets the hub notice a copied data dir on
 * another machine, without disclosing the raw id. CERTHUB_AGENT_MACHINE_ID overrides it
 * (containers without a machine id, tests).
 */
function machineIdHint(): string | null {
  let raw = machineIdOverride();
  if (!raw && process.platform === "linux") {
    for (const f of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
      try {
        raw = readFileSync(f, "utf8").trim();
        if (raw) break;
      } catch {}
    }
  }
  if (!raw && process.platform === "darwin") {
    try {
      const out = spawnSync("ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"], { encoding: "utf8", timeout: 2000 }).stdout ?? "";
      raw = /"IOPlatformUUID" = "([^"]+)"/.exec(out)?.[1] ?? "";
    } catch {}
  }
  return raw ? createHash("sha256").update(`certhub:${raw}`).digest("hex") : null;
}
