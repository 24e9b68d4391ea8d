// The text formats on their own: certbot's ConfigObj confs and renewal rule, acme.sh's shell
// assignments and log, BOM detection, the shared status rule and report ids.
import { describe, expect, test } from "bun:test";
import { logOutcomes, parseShellConf, parseTimeStr } from "../../../src/agent/external/acme-sh";
import { collectFailures, nextRenewal, parseInterval } from "../../../src/agent/external/certbot";
import { decodeText, deriveStatus, reportId } from "../../../src/agent/external/common";
import { ConfigObjError, configObjList, parseConfigObj } from "../../../src/agent/external/configobj";
import { dueDate, parseDate } from "../../../src/agent/external/wacs";

const DAY = 86_400_000;

describe("certbot ConfigObj renewal conf", () => {
  const conf = parseConfigObj(`# renew_before_expiry = 30 days
version = 2.11.0
archive_dir = /etc/letsencrypt/archive/example.com
cert = /etc/letsencrypt/live/example.com/cert.pem
privkey = /etc/letsencrypt/live/example.com/privkey.pem
chain = /etc/letsencrypt/live/example.com/chain.pem
fullchain = /etc/letsencrypt/live/example.com/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 5a1f0c3e9b7d42e8a6c4f2b0d8e6a4c2
authenticator = webroot
webroot_path = /var/www/example.com,
server = https://acme-v02.api.letsencrypt.org/directory
manual_auth_hook = "/usr/local/bin/hook # with a hash"
pref_challs = dns-01,
func = <function obtain_cert at 0x7f3b2c1d0e50>
[[webroot_map]]
example.com = /var/www/example.com
www.example.com = /var/www/example.com
[acme_renewal_info]
ari_retry_after = 2025-06-30T09:15:02
`);

  test("top level, sections, nested [[webroot_map]], lists, quoted values, 0.x junk keys", () => {
    expect(conf.values.version).toBe("2.11.0");
    expect(conf.values.renew_before_expiry).toBeUndefined(); // only a comment
    expect(conf.sections.renewalparams!.values.server).toBe("https://acme-v02.api.letsencrypt.org/directory");
    expect(configObjList(conf.sections.renewalparams!.values.webroot_path)).toEqual(["/var/www/example.com"]);
    expect(configObjList(conf.sections.renewalparams!.values.pref_challs)).toEqual(["dns-01"]);
    expect(conf.sections.renewalparams!.values.manual_auth_hook).toBe("/usr/local/bin/hook # with a hash");
    expect(conf.sections.renewalparams!.sections.webroot_map!.values["www.example.com"]).toBe("/var/www/example.com");
    expect(conf.sections.acme_renewal_info!.values.ari_retry_after).toBe("2025-06-30T09:15:02");
  });

  test("a line that is neither a section nor key = value is an error with its line number", () => {
    expect(() => parseConfigObj("version = 1\n[renewalparams\n")).toThrow(ConfigObjError);
    expect(() => parseConfigObj("version = 1\n\njust words\n")).toThrow("line 3");
  });

  test("next renewal: renew_before_expiry, else certbot ≥ 4 renews at 2/3 of the lifetime (1/2 under 10 days), older 30 days before", () => {
    const nb = Date.UTC(2026, 0, 1);
    const long = { notBefore: nb, notAfter: nb + 90 * DAY };
    const short = { notBefore: nb, notAfter: nb + 6 * DAY };
    expect(nextRenewal(parseConfigObj("version = 4.1.0\n"), long)).toBe(nb + 60 * DAY);
    expect(nextRenewal(parseConfigObj("version = 4.1.0\n"), short)).toBe(nb + 3 * DAY);
    expect(nextRenewal(parseConfigObj("version = 2.11.0\n"), long)).toBe(nb + 60 * DAY);
    expect(nextRenewal(parseConfigObj("version = 2.11.0\n"), { notBefore: nb, notAfter: nb + 365 * DAY })).toBe(nb + 335 * DAY);
    expect(nextRenewal(parseConfigObj("version = 4.1.0\nrenew_before_expiry = 10 days\n"), long)).toBe(nb + 80 * DAY);
    expect(nextRenewal(parseConfigObj("version = 4.1.0\n[renewalparams]\nautorenew = False\n"), long)).toBeNull();
    expect(parseInterval("3 weeks 2 days")).toBe(23 * DAY);
    expect(parseInterval("12")).toBe(12 * DAY);
    expect(parseInterval("12 fortnights")).toBeNull();
  });

  test("letsencrypt.log: the latest failure per lineage, multi-line messages kept", () => {
    const failures = new Map();
    collectFailures(
      [
        "2026-11-30 03:14:41,902:DEBUG:certbot._internal.display.obj:Notifying user: Processing /etc/letsencrypt/renewal/store.example.net.conf",
        "2026-11-30 03:14:42,100:ERROR:certbot._internal.renewal:Failed to renew certificate store.example.net with error: Some challenges have failed.",
        "Detail: 203.0.113.7: Invalid response",
        "2026-11-30 03:14:43,000:ERROR:certbot._internal.renewal:Renewal configuration file /etc/letsencrypt/renewal/bad.conf (cert: bad) produced an unexpected error: missing a required file reference. Skipping.",
      ].join("\n"),
      failures,
    );
    expect(failures.get("store.example.net").message).toBe("Some challenges have failed.\nDetail: 203.0.113.7: Invalid response");
    expect(failures.get("store.example.net").at).toBe(new Date(2026, 10, 30, 3, 14, 42, 100).getTime());
    expect(failures.get("bad").message).toBe("missing a required file reference");
  });
});

describe("acme.sh conf and log", () => {
  test("three quoting styles in one file, base64 values, a broken quote kept raw, bad lines counted", () => {
    const { values, badLines } = parseShellConf(
      [
        "Le_Domain=example.com",
        'Le_Alt="www.example.com,*.example.com"',
        "Le_Webroot='dns_cf'",
        "Le_ReloadCmd='__ACME_BASE64__START_c3lzdGVtY3RsIHJlbG9hZCBuZ2lueA==__ACME_BASE64__END_'",
        "Le_PreHook='echo it's broken'",
        "not an assignment",
        "",
        "# comment",
      ].join("\n"),
    );
    expect(values).toMatchObject({ Le_Domain: "example.com", Le_Alt: "www.example.com,*.example.com", Le_Webroot: "dns_cf", Le_ReloadCmd: "systemctl reload nginx" });
    expect(values.Le_PreHook).toBe("echo it's broken");
    expect(badLines).toEqual([6]);
  });

  test("*TimeStr before and after 3.0.3", () => {
    expect(parseTimeStr("2025-07-08T10:00:00Z")).toBe(Date.UTC(2025, 6, 8, 10));
    expect(parseTimeStr("Thu Apr  7 19:12:05 UTC 2022")).toBe(Date.UTC(2022, 3, 7, 19, 12, 5));
  });

  test("log: the latest outcome per domain wins", () => {
    const log = [
      "[Mon Nov 30 00:41:02 UTC 2026] Renewing: 'a.example'",
      "[Mon Nov 30 00:41:09 UTC 2026] a.example: Invalid status. Verification error details: timeout",
      "[Mon Nov 30 00:41:09 UTC 2026] Error renewing a.example.",
      "[Tue Dec  1 00:41:02 UTC 2026] Renewing: 'a.example'",
      "[Tue Dec  1 00:41:09 UTC 2026] Cert success.",
      "[Tue Dec  1 00:42:02 UTC 2026] Renewing: 'b.example'",
      "[Tue Dec  1 00:42:09 UTC 2026] Error renewing b.example.",
    ].join("\n");
    const o = logOutcomes(log);
    expect(o.get("a.example")).toEqual({ failed: false, message: "" });
    expect(o.get("b.example")?.failed).toBe(true);
  });
});

describe("shared rules", () => {
  test("BOMs: UTF-16LE, UTF-16BE, UTF-8, none", () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"a":1}', "utf16le")]);
    expect(JSON.parse(decodeText(le))).toEqual({ a: 1 });
    const be = Buffer.from([0xfe, 0xff, 0x00, 0x7b, 0x00, 0x7d]);
    expect(decodeText(be)).toBe("{}");
    expect(decodeText(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))).toBe("{}");
    expect(decodeText(Buffer.from("{}"))).toBe("{}");
  });

  test("status: pending, expired, failed, expiring (14 days or past next renewal), valid", () => {
    const now = Date.UTC(2026, 11, 1);
    expect(deriveStatus({ notAfter: null }, now)).toBe("pending");
    expect(deriveStatus({ notAfter: now - 1 }, now)).toBe("expired");
    expect(deriveStatus({ notAfter: now + 60 * DAY, lastRenewalFailed: true }, now)).toBe("failed");
    expect(deriveStatus({ notAfter: now + 14 * DAY }, now)).toBe("expiring");
    expect(deriveStatus({ notAfter: now + 60 * DAY, nextRenewalAt: now - 1 }, now)).toBe("expiring");
    expect(deriveStatus({ notAfter: now + 60 * DAY, nextRenewalAt: now + DAY }, now)).toBe("valid");
  });

  test("report ids are valid and distinct after sanitising", () => {
    expect(reportId("certbot", "example.com")).toBe("certbot:example.com");
    const star = reportId("acme.sh", "*.example.com_ecc", "/root/.acme.sh/*.example.com_ecc");
    const underscore = reportId("acme.sh", "_.example.com_ecc");
    expect(star).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
    expect(star).not.toBe(underscore);
    expect(reportId("certbot", "x".repeat(100))).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
  });

  test("wacs: .NET dates with 7 digits and offsets; due date skips failed runs, none when revoked", () => {
    expect(parseDate("2025-05-10T09:58:44.1029384Z")).toBe(Date.UTC(2025, 4, 10, 9, 58, 44, 102));
    expect(parseDate("2025-05-10T10:58:44+01:00")).toBe(Date.UTC(2025, 4, 10, 9, 58, 44));
    const ok = { Date: "2026-01-01T00:00:00Z", Success: true, OrderResults: [{ Name: "main", Success: true, DueDate: { Start: "2026-02-25T00:00:00Z", End: "2026-02-25T00:00:00Z" } }] };
    const failed = { Date: "2026-02-26T00:00:00Z", Success: false, OrderResults: [{ Name: "main", Success: false }] };
    expect(dueDate([ok, failed])).toBe(Date.UTC(2026, 1, 25));
    expect(dueDate([{ ...ok, OrderResults: [{ ...ok.OrderResults[0]!, Revoked: true }] }])).toBeNull();
  });
});

describe("certificate facts", () => {
  test("a certificate with an empty subject (no CN, as Pebble 2.10 and Let's Encrypt's newer profiles issue) reads its SANs", async () => {
    const { certFactsFromBytes } = await import("../../../src/agent/external/x509");
    const dir = (await import("../../helpers")).tempDir("x509-nosubject-");
    const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${dir}/k.pem`, "-out", `${dir}/c.pem`, "-days", "2", "-subj", "/", "-addext", "subjectAltName=DNS:a.example.test,DNS:b.example.test"], { stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const facts = certFactsFromBytes(await Bun.file(`${dir}/c.pem`).bytes());
    expect(facts.subject).toBe("");
    expect(facts.domains).toEqual(["a.example.test", "b.example.test"]);
  });
});
