// A real Pebble (Debian's `pebble` package) for the certbot test: started as a child process on
// free loopback ports with an openssl-made TLS certificate, validation skipped
// (PEBBLE_VA_ALWAYS_VALID=1) because what is under test is the reader of certbot's tree.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../../helpers";

export interface Pebble {
  directoryUrl: string;
  /** CA file that trusts Pebble's HTTPS listener (for REQUESTS_CA_BUNDLE). */
  caFile: string;
  stop(): Promise<void>;
}

export function requireBinary(bin: string, pkg: string): string {
  const found = Bun.which(bin);
  if (!found) throw new Error(`${bin} is not installed: this test drives the real ${pkg} (apt-get install -y ${pkg}, or run npm test as root)`);
  return found;
}

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

export async function startPebble(dir: string): Promise<Pebble> {
  const pebbleBin = requireBinary("pebble", "pebble");
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=certhub test pebble tls ca"], dir);
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "srv.csr", "-subj", "/CN=localhost"], dir);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl(["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "san.ext"], dir);
  const port = await freePort();
  const mgmt = await freePort();
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${mgmt}`,
      certificate: join(dir, "cert.pem"),
      privateKey: join(dir, "key.pem"),
      httpPort: await freePort(),
      tlsPort: await freePort(),
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(join(dir, "pebble-config.json"), JSON.stringify(config));
  const proc: Subprocess = Bun.spawn([pebbleBin, "-config", join(dir, "pebble-config.json")], {
    cwd: dir,
    env: { ...process.env, PEBBLE_VA_ALWAYS_VALID: "1", PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "100" },
    stdout: "ignore",
    stderr: "pipe",
  });
  const onExit = () => proc.kill("SIGKILL");
  process.on("exit", onExit);
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  const ca = await Bun.file(join(dir, "ca.pem")).text();
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(directoryUrl, { tls: { ca } });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      const err = await new Response(proc.stderr as ReadableStream).text();
      throw new Error(`pebble did not start: ${err.slice(-2000)}`);
    }
    await Bun.sleep(100);
  }
  return {
    directoryUrl,
    caFile: join(dir, "ca.pem"),
    async stop() {
      process.off("exit", onExit);
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}
