// The PEM task's `combined: true`: combined.pem holds the full chain followed by the private key
// (what haproxy's `crt`, lighttpd's ssl.pemfile and Webmin read), in the same version directory
// as the other four files, so it always matches them. Checked with the real openssl (the first
// certificate is the leaf, the key is the leaf's, the chain verifies) and the real haproxy's
// config check (which loads every `crt` and refuses a file without its key). Mode 0600 unless
// the task gives one; not written when the option is off; our link removed when it is turned off.
import { describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runDeployments } from "../../../src/agent/deploy";
import { PemTaskSchema, type DeploymentTask } from "../../../src/protocol/certificates";
import { freePort, tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";
import { BINARIES, requireServer } from "./servers";

const ca = makeCa();
const a = issue(ca, { serialHex: "c0b1", domains: ["combined.example.test"] });
const b = issue(ca, { serialHex: "c0b2", domains: ["combined.example.test"], key: "rsa" });

function sh(cmd: string[], stdin?: string): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(cmd, { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

async function deploy(task: Record<string, unknown>, cert = a) {
  const [r] = await runDeployments([PemTaskSchema.parse({ type: "pem", ...task }) as DeploymentTask], cert, "success", context());
  return r.lastResult;
}

/** haproxy's own config check with `crt <file>`: it loads the certificate and its key, or fails. */
async function haproxyAccepts(crt: string): Promise<{ ok: boolean; output: string }> {
  requireServer("haproxy");
  const cfg = join(tempDir("certhub-combined-haproxy-"), "haproxy.cfg");
  writeFileSync(cfg, `defaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\nfrontend tls\n  bind 127.0.0.1:${await freePort()} ssl crt ${crt}\n  http-request return status 200\n`);
  const r = sh([BINARIES.haproxy, "-c", "-f", cfg]);
  return { ok: r.code === 0, output: r.out + r.err };
}

describe("pem task: combined.pem (full chain + key in one file)", () => {
  test("content is fullchain then key; openssl reads the leaf, its own key and a chain that verifies; haproxy -c loads it", async () => {
    const dir = tempDir("certhub-combined-");
    const res = await deploy({ directory: dir, combined: true });
    expect(res.outcome).toBe("succeeded");
    expect(res.message).toBe(`wrote cert.pem, chain.pem, fullchain.pem, privkey.pem, combined.pem to ${dir} (serial c0b1)`);
    const file = join(dir, "combined.pem");
    const text = readFileSync(file, "utf8");
    expect(text).toBe(a.fullchainPem + a.keyPem);
    expect(text).toBe(readFileSync(join(dir, "fullchain.pem"), "utf8") + readFileSync(join(dir, "privkey.pem"), "utf8"));
    expect(readlinkSync(file)).toBe(".certhub-pem/current/combined.pem"); // swapped with the others
    // openssl: the first certificate is the leaf, the key in the file is that certificate's key.
    expect(sh(["openssl", "x509", "-in", file, "-noout", "-serial"]).out.trim()).toBe("serial=C0B1");
    const certPub = sh(["openssl", "x509", "-in", file, "-noout", "-pubkey"]);
    const keyPub = sh(["openssl", "pkey", "-in", file, "-pubout"]);
    expect(certPub.code).toBe(0);
    expect(keyPub.code, keyPub.err).toBe(0);
    expect(keyPub.out).toBe(certPub.out);
    // …and the chain in it verifies the leaf.
    const v = sh(["openssl", "verify", "-CAfile", join(ca.dir, "ca.pem"), "-untrusted", file, file]);
    expect(v.out.trim(), v.err).toBe(`${file}: OK`);

    const h = await haproxyAccepts(file);
    expect(h.ok, h.output).toBe(true);
    // Control: haproxy's check does look for the key (fullchain.pem alone, no <crt>.key beside it).
    const without = await haproxyAccepts(join(dir, "fullchain.pem"));
    expect(without.ok).toBe(false);
    expect(without.output).toContain(`No Private Key found in '${join(dir, "fullchain.pem")}.key'`);
  });

  test("mode 0600 by default (it holds the key), the task's mode otherwise; owner/group like the others", async () => {
    const dir = tempDir("certhub-combined-mode-");
    expect((await deploy({ directory: dir, combined: true })).outcome).toBe("succeeded");
    expect(statSync(join(dir, "combined.pem")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "fullchain.pem")).mode & 0o777).toBe(0o644);

    const dir2 = tempDir("certhub-combined-mode-");
    expect((await deploy({ directory: dir2, combined: true, mode: "0640", group: "0" })).outcome).toBe("succeeded");
    for (const f of ["combined.pem", "privkey.pem", "fullchain.pem"]) expect(statSync(join(dir2, f)).mode & 0o777, f).toBe(0o640);
    expect(statSync(join(dir2, "combined.pem")).gid).toBe(0);
  });

  test("off (absent or false): no combined.pem anywhere; the four contract files as before", async () => {
    for (const combined of [undefined, false]) {
      const dir = tempDir("certhub-combined-off-");
      const res = await deploy({ directory: dir, ...(combined === undefined ? {} : { combined }) });
      expect(res.outcome).toBe("succeeded");
      expect(res.message).toBe(`wrote cert.pem, chain.pem, fullchain.pem, privkey.pem to ${dir} (serial c0b1)`);
      expect(readdirSync(dir).sort()).toEqual([".certhub-pem", "cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]);
      const current = join(dir, ".certhub-pem", "current");
      expect(readdirSync(current).sort()).toEqual(["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]);
    }
  });

  test("a renewal replaces it together with the others; turned off, our link goes; an admin's own combined.pem is left alone", async () => {
    const dir = tempDir("certhub-combined-renew-");
    expect((await deploy({ directory: dir, combined: true }, a)).outcome).toBe("succeeded");
    expect((await deploy({ directory: dir, combined: true }, b)).outcome).toBe("succeeded");
    expect(readFileSync(join(dir, "combined.pem"), "utf8")).toBe(b.fullchainPem + b.keyPem); // RSA key after the EC one
    const h = await haproxyAccepts(join(dir, "combined.pem"));
    expect(h.ok, h.output).toBe(true);

    expect((await deploy({ directory: dir }, a)).outcome).toBe("succeeded");
    expect(existsSync(join(dir, "combined.pem"))).toBe(false);
    expect(lstatSync(join(dir, "combined.pem"), { throwIfNoEntry: false })).toBeUndefined(); // no dangling link either

    const own = tempDir("certhub-combined-own-");
    writeFileSync(join(own, "combined.pem"), "the admin's own file\n");
    expect((await deploy({ directory: own }, a)).outcome).toBe("succeeded");
    expect(readFileSync(join(own, "combined.pem"), "utf8")).toBe("the admin's own file\n");
  });

  test("a combined.pem that links elsewhere is refused and nothing changes", async () => {
    const dir = tempDir("certhub-combined-link-");
    const elsewhere = join(tempDir("certhub-combined-elsewhere-"), "site.pem");
    writeFileSync(elsewhere, "not ours\n");
    symlinkSync(elsewhere, join(dir, "combined.pem"));
    const res = await deploy({ directory: dir, combined: true });
    expect(res.outcome).toBe("failed");
    expect(res.message).toBe(`${join(dir, "combined.pem")}: is a symbolic link to elsewhere; refusing to replace it (point the task at the real directory)`);
    expect(readdirSync(dir)).toEqual(["combined.pem"]);
    expect(readFileSync(elsewhere, "utf8")).toBe("not ours\n");
  });

  test("the wire schema takes only a boolean", () => {
    expect(PemTaskSchema.safeParse({ type: "pem", directory: "/x", combined: true }).success).toBe(true);
    expect(PemTaskSchema.safeParse({ type: "pem", directory: "/x", combined: "yes" }).success).toBe(false);
    expect(PemTaskSchema.safeParse({ type: "pem", directory: "/x", combined: "combined.pem" }).success).toBe(false);
  });
});
