// Real TLS servers from Debian on loopback high ports, each with a throw-away config written by
// the test (never the system service, never a system config file) and run as a child of the test:
// nginx, apache2, haproxy (master-worker) and postfix (smtpd with STARTTLS). Each serves the PEM
// files of a directory the deployment's PEM task writes (haproxy: its combined.pem, so that task
// needs `combined: true`). `servedSerial` asks openssl s_client
// what is served (with -starttls smtp for postfix).
import { X509Certificate } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, tempDir } from "../../helpers";

export const BINARIES = { nginx: "/usr/sbin/nginx", apache: "/usr/sbin/apache2", haproxy: "/usr/sbin/haproxy", postfix: "/usr/sbin/postfix" } as const;
export type ServerKind = keyof typeof BINARIES;

export interface RunningServer {
  kind: ServerKind;
  port: number;
  /** The server's throw-away directory (its config, pid and error log). */
  dir: string;
  /** The file (postfix: directory) the preset's `config` points at. */
  config: string;
  /** The directory whose fullchain.pem / privkey.pem the server serves. */
  certs: string;
  /** Makes the config invalid in the server's own terms (for the config-test case). */
  breakConfig(): void;
  output(): string;
  stop(): Promise<void>;
}

/** Loud failure when the Debian package is missing: these tests never pass without the server. */
export function requireServer(kind: ServerKind): void {
  const pkg = { nginx: "nginx-light", apache: "apache2", haproxy: "haproxy", postfix: "postfix" }[kind];
  if (!existsSync(BINARIES[kind])) throw new Error(`${kind} NOT INSTALLED (${BINARIES[kind]}): the real-${kind} preset test cannot run; apt-get install -y ${pkg}`);
}

function spawn(cmd: string[], cwd: string): { proc: Subprocess; output: () => string } {
  let out = "";
  const proc = Bun.spawn(cmd, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const drain = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s) out = (out + new TextDecoder().decode(c)).slice(-20000);
  };
  void drain(proc.stdout as ReadableStream<Uint8Array>);
  void drain(proc.stderr as ReadableStream<Uint8Array>);
  return { proc, output: () => out };
}

async function stopProc(proc: Subprocess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill(signal);
  const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
  await proc.exited;
  clearTimeout(t);
}

/** Starts `kind` on a free loopback port serving `<certs>/fullchain.pem` + `privkey.pem` (haproxy: `<certs>/combined.pem`), written before. */
export interface ServerOptions {
  /** nginx only: a default server with this certificate answers every other SNI name. */
  defaultServerCert?: { fullchainPem: string; keyPem: string };
  /** nginx only: listen on [::1] too (where "localhost" also resolves to ::1, as Debian's /etc/hosts says). */
  ipv6Loopback?: boolean;
}

export async function startServer(kind: ServerKind, certs: string, serverName: string, opts: ServerOptions = {}): Promise<RunningServer> {
  requireServer(kind);
  const dir = tempDir(`certhub-${kind}-`);
  const port = await freePort();
  switch (kind) {
    case "nginx": {
      mkdirSync(join(dir, "tmp"));
      const config = join(dir, "nginx.conf");
      let decoy = "";
      if (opts.defaultServerCert) {
        writeFileSync(join(dir, "decoy.pem"), opts.defaultServerCert.fullchainPem);
        writeFileSync(join(dir, "decoy.key"), opts.defaultServerCert.keyPem, { mode: 0o600 });
        decoy = `  server {
    listen 127.0.0.1:${port} ssl default_server;${opts.ipv6Loopback ? `\n    listen [::1]:${port} ssl default_server;` : ""}
    server_name _;
    ssl_certificate ${dir}/decoy.pem;
    ssl_certificate_key ${dir}/decoy.key;
    location / { return 404; }
  }
`;
      }
      writeFileSync(join(dir, "extra.conf"), "");
      writeFileSync(
        config,
        `daemon off;
user nobody nogroup;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body; proxy_temp_path ${dir}/tmp/proxy; fastcgi_temp_path ${dir}/tmp/fcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port} ssl;${opts.ipv6Loopback ? `\n    listen [::1]:${port} ssl;` : ""}
    server_name ${serverName};
    ssl_certificate ${certs}/fullchain.pem;
    ssl_certificate_key ${certs}/privkey.pem;
    include ${dir}/extra.conf;
    location / { return 200 "ok"; }
  }
${decoy}}
`,
      );
      const p = spawn([BINARIES.nginx, "-c", config, "-e", `${dir}/error.log`], dir);
      return { kind, port, dir, config, certs, breakConfig: () => writeFileSync(join(dir, "extra.conf"), "ssl_bogus_directive on;\n"), output: p.output, stop: () => stopProc(p.proc, "SIGQUIT") };
    }
    case "apache": {
      const config = join(dir, "apache2.conf");
      const mods = "/usr/lib/apache2/modules";
      writeFileSync(join(dir, "extra.conf"), "");
      writeFileSync(
        config,
        `ServerRoot ${dir}
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
LogLevel warn
Mutex file:${dir}
DefaultRuntimeDir ${dir}
LoadModule mpm_event_module ${mods}/mod_mpm_event.so
LoadModule authz_core_module ${mods}/mod_authz_core.so
LoadModule socache_shmcb_module ${mods}/mod_socache_shmcb.so
LoadModule ssl_module ${mods}/mod_ssl.so
User nobody
Group nogroup
ServerName ${serverName}
Listen 127.0.0.1:${port}
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
<VirtualHost 127.0.0.1:${port}>
  ServerName ${serverName}
  SSLEngine on
  SSLCertificateFile ${certs}/fullchain.pem
  SSLCertificateKeyFile ${certs}/privkey.pem
  Include ${dir}/extra.conf
</VirtualHost>
`,
      );
      const p = spawn([BINARIES.apache, "-f", config, "-DFOREGROUND"], dir);
      return { kind, port, dir, config, certs, breakConfig: () => writeFileSync(join(dir, "extra.conf"), "SSLBogusDirective on\n"), output: () => p.output() + readIf(join(dir, "error.log")), stop: () => stopProc(p.proc, "SIGTERM") };
    }
    case "haproxy": {
      // haproxy's `crt` is one file with the chain and the key: the PEM task's combined.pem (a link
      // into the task's current version, so every renewal swaps it whole).
      const config = join(dir, "haproxy.cfg");
      const body = (extra: string) => `global
  master-worker
  pidfile ${dir}/haproxy.pid
  log stderr format raw local0 notice
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend tls
  bind 127.0.0.1:${port} ssl crt ${certs}/combined.pem
  http-request return status 200 content-type text/plain string ok
${extra}`;
      writeFileSync(config, body(""));
      const p = spawn([BINARIES.haproxy, "-W", "-db", "-f", config], dir);
      return { kind, port, dir, config, certs, breakConfig: () => writeFileSync(config, body("  bogus_keyword on\n")), output: p.output, stop: () => stopProc(p.proc, "SIGTERM") };
    }
    case "postfix": {
      // Postfix daemons run as user postfix and chdir into the queue: the tree must be traversable.
      // Its log goes to a file (postlogd): with a pipe as stdout, maillog_file=/dev/stdout fails.
      chmodSync(dir, 0o755);
      const etc = join(dir, "etc");
      for (const d of [etc, join(dir, "queue"), join(dir, "data")]) mkdirSync(d);
      chownSync(join(dir, "data"), uidOf("postfix"), -1);
      const mainCf = (extra: string) => `compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = ${serverName}
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
maillog_file_prefixes = ${dir}
maillog_file = ${dir}/maillog
smtpd_tls_chain_files = ${certs}/privkey.pem, ${certs}/fullchain.pem
smtpd_tls_security_level = may
# one smtpd that stays: what it serves shows whether a reload happened
max_idle = 3600s
${extra}`;
      writeFileSync(join(etc, "main.cf"), mainCf(""));
      writeFileSync(join(etc, "master.cf"), POSTFIX_MASTER_CF(port));
      const p = spawn([BINARIES.postfix, "-c", etc, "start-fg"], dir);
      return {
        kind, port, dir, config: etc, certs,
        breakConfig: () => writeFileSync(join(etc, "main.cf"), mainCf("smtpd_line_without_an_equals_sign\n")),
        output: () => p.output() + readIf(join(dir, "maillog")),
        async stop() {
          // SIGTERM to the master by its pid file: `postfix stop` cannot read a broken main.cf.
          const pid = Number.parseInt(readIf(join(dir, "queue/pid/master.pid")).trim(), 10);
          if (Number.isInteger(pid) && pid > 1) {
            try {
              process.kill(pid, "SIGTERM");
            } catch {
              // already gone
            }
          }
          await stopProc(p.proc, "SIGTERM");
        },
      };
    }
  }
}

const POSTFIX_MASTER_CF = (port: number) => `127.0.0.1:${port} inet n - n - 1 smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
local     unix  - n n -     - local
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
`;

function uidOf(user: string): number {
  const r = Bun.spawnSync(["id", "-u", user], { stdout: "pipe" });
  const uid = Number.parseInt(r.stdout.toString(), 10);
  if (!Number.isInteger(uid)) throw new Error(`no user ${user} (the postfix package creates it)`);
  return uid;
}

function readIf(path: string): string {
  try {
    return require("node:fs").readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The serial (lowercase hex) openssl s_client sees at 127.0.0.1:port with SNI, or null (no TLS). */
export async function servedSerial(port: number, servername: string, starttls?: "smtp"): Promise<string | null> {
  const proc = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-servername", servername, ...(starttls ? ["-starttls", starttls] : [])], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  proc.stdin.write(starttls ? "QUIT\r\n" : "");
  proc.stdin.end();
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  clearTimeout(timer);
  const pem = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  if (!pem) return null;
  return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
}

/** Polls until `check` is true or `ms` pass; returns whether it became true. */
export async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await Bun.sleep(100);
  }
  return false;
}
