// DNS-01 through RFC 2136 dynamic update with a TSIG stored credential: add our TXT value on the
// primary, wait until the primary serves it, delete only our value afterwards.
import type { Resolver } from "node:dns/promises";
import { CredentialSecretSchemas, type CredentialForAgent } from "../../../protocol/certificates";
import { sleep } from "../client";
import { findZone, resolverFor, serverAddress, waitForTxt, type DnsServer } from "./dns";
import { dns01Name, dns01Value, type Presented, type SolverContext, type Solver } from "./common";
import { updateTxt, type TsigKey } from "./rfc2136";

const VISIBLE_TIMEOUT_MS = 60_000;

export function tsigKeyFrom(credentialId: string, credentials: Map<string, CredentialForAgent>): TsigKey {
  const cred = credentials.get(credentialId);
  if (!cred) throw new Error(`stored credential "${credentialId}" is missing on this instance`);
  if (cred.type !== "tsig") throw new Error(`stored credential "${credentialId}" is a ${cred.type}, not a TSIG key`);
  const parsed = CredentialSecretSchemas.tsig.safeParse(cred.secret);
  if (!parsed.success) throw new Error(`stored credential "${credentialId}" is not a valid TSIG key (name, algorithm, base64 secret)`);
  return parsed.data;
}

export interface Rfc2136Target { server: DnsServer; resolver: Resolver; key: TsigKey; zoneFor(fqdn: string): Promise<string> }

export async function rfc2136Target(c: { server: string; zone?: string; credentialId: string }, ctx: SolverContext): Promise<Rfc2136Target> {
  const key = tsigKeyFrom(c.credentialId, ctx.credentials);
  const server = await serverAddress(c.server);
  const resolver = resolverFor(server);
  const zones = new Map<string, Promise<string>>();
  return {
    server, resolver, key,
    zoneFor(fqdn) {
      if (c.zone) return Promise.resolve(c.zone.replace(/\.$/, ""));
      let z = zones.get(fqdn);
      if (!z) zones.set(fqdn, (z = findZone(resolver, fqdn)));
      return z;
    },
  };
}

export function rfc2136Solver(c: { server: string; zone?: string; credentialId: string; propagationSeconds?: number }, ctx: SolverContext): Solver {
  let target: Promise<Rfc2136Target> | null = null;
  return {
    type: "dns-01",
    async present(task, signal): Promise<Presented> {
      const t = await (target ??= rfc2136Target(c, ctx));
      const fqdn = dns01Name(task.domain);
      const value = dns01Value(task.keyAuthorization);
      const zone = await t.zoneFor(fqdn);
      const via = await updateTxt({ server: t.server, zone, fqdn, value, op: "add", key: t.key, signal });
      ctx.log(`DNS-01: added TXT ${fqdn} in zone ${zone} on ${t.server.host}:${t.server.port}${via === "tcp" ? " (over TCP: the UDP answer was truncated)" : ""}`);
      return {
        async waitReady(sig) {
          const ms = await waitForTxt(t.server, fqdn, value, VISIBLE_TIMEOUT_MS, sig);
          ctx.log(`DNS-01: ${fqdn} visible on the primary after ${ms} ms`);
          if (c.propagationSeconds) await sleep(c.propagationSeconds * 1000, sig); // for secondaries
        },
        async cleanup() {
          await updateTxt({ server: t.server, zone, fqdn, value, op: "delete", key: t.key }).catch((err) =>
            ctx.log(`DNS-01: could not remove TXT ${fqdn}: ${(err as Error).message}`),
          );
        },
      };
    },
  };
}
