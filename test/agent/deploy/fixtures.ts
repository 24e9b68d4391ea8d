// Test certificates made by the real openssl CLI: a CA and leaf certificates (EC or RSA) with a
// chosen serial, returned in the shape the deployment runner takes.
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DeployableCertificate, DeployContext } from "../../../src/agent/deploy";
import { tempDir } from "../../helpers";

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

export interface TestCa {
  dir: string;
  pem: string;
}

export function makeCa(): TestCa {
  const dir = tempDir("certhub-deploy-ca-");
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=certhub test CA", "-days", "30"], dir);
  return { dir, pem: readFileSync(join(dir, "ca.pem"), "utf8") };
}

let counter = 0;

/** A leaf for `domains` signed by `ca`, with `serialHex` (lowercase hex) as its serial. */
export function issue(ca: TestCa, opts: { serialHex: string; domains?: string[]; key?: "ec" | "rsa"; name?: string }): DeployableCertificate {
  const domains = opts.domains ?? ["site.example.test"];
  const n = ++counter;
  const keyArgs = opts.key === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  openssl(["req", ...keyArgs, "-nodes", "-keyout", `leaf${n}.key`, "-out", `leaf${n}.csr`, "-subj", `/CN=${domains[0]}`], ca.dir);
  writeFileSync(join(ca.dir, `ext${n}.cnf`), `subjectAltName=${domains.map((d) => `DNS:${d}`).join(",")}\n`);
  openssl(["x509", "-req", "-in", `leaf${n}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", `0x${opts.serialHex}`, "-days", "10", "-extfile", `ext${n}.cnf`, "-out", `leaf${n}.pem`], ca.dir);
  const certPem = readFileSync(join(ca.dir, `leaf${n}.pem`), "utf8");
  const x = new X509Certificate(certPem);
  return {
    id: `cert-${n}`,
    name: opts.name ?? `site-${n}`,
    domains,
    serial: opts.serialHex,
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
    certPem,
    chainPem: ca.pem,
    fullchainPem: certPem + ca.pem,
    keyPem: readFileSync(join(ca.dir, `leaf${n}.key`), "utf8"),
  };
}

export function context(overrides: Partial<DeployContext> = {}): DeployContext & { lines: string[] } {
  const lines: string[] = [];
  return { credentials: new Map(), allowScripts: false, log: (m) => lines.push(m), instanceId: "inst-1", lines, ...overrides };
}
