// Shared pieces of the external-client readers: the reader contract, file access that turns
// errors into problem sentences, report ids, status rules and text decoding (BOMs).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { CertificateReport, CertSource, CertStatus } from "../../protocol/certificates";
import { MAX_TIME_MS, MIN_TIME_MS } from "../../protocol/certificates";
import type { CertFacts } from "./x509";

/** What one reader returns for one client. */
export interface ClientScan {
  certificates: CertificateReport[];
  problems: string[];
  /** True when at least one of the client's roots exists (otherwise the client is "not-found"). */
  found: boolean;
  /** True when a root exists but could not be read at all. */
  rootUnreadable?: boolean;
}

export interface ReaderInput {
  /** Config roots to scan, in order (absolute). */
  roots: string[];
  /** Log directory or file, when the client keeps logs apart (certbot). */
  logPath?: string;
  now: number;
}

export type ClientReader = (input: ReaderInput) => Promise<ClientScan>;

export const EXPIRING_WITHIN_MS = 14 * 86_400_000;
export const DAY_MS = 86_400_000;

/**
 * The status rule shared by every client: no certificate yet → pending; past notAfter →
 * expired; the client recorded a failed last renewal → failed; within 14 days of expiry or
 * past the client's next renewal time → expiring; else valid.
 */
export function deriveStatus(facts: { notAfter: number | null; nextRenewalAt?: number | null; lastRenewalFailed?: boolean }, now: number): CertStatus {
  if (facts.notAfter == null) return facts.lastRenewalFailed ? "failed" : "pending";
  if (facts.notAfter <= now) return "expired";
  if (facts.lastRenewalFailed) return "failed";
  if (facts.notAfter - now <= EXPIRING_WITHIN_MS) return "expiring";
  if (facts.nextRenewalAt != null && facts.nextRenewalAt <= now) return "expiring";
  return "valid";
}

/** Epoch ms within the wire bounds, or null (a date the hub could not render is no date). */
export function boundedTime(ms: number | null | undefined): number | null {
  if (ms == null || !Number.isFinite(ms)) return null;
  const t = Math.round(ms);
  return t >= MIN_TIME_MS && t <= MAX_TIME_MS ? t : null;
}

export function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/**
 * A report id: `<source>:<key>` when that is already valid, else the key sanitised plus a
 * short hash of the unsanitised identity, so "*.example.com" and "_.example.com" stay apart.
 */
export function reportId(source: CertSource, key: string, identity = key): string {
  const raw = `${source}:${key}`;
  if (/^[A-Za-z0-9_.:-]{1,64}$/.test(raw)) return raw;
  const clean = raw.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 55);
  return `${clean}-${shortHash(identity)}`;
}

/** Gives duplicate ids (same key in two roots) a hash of their identifier. */
export function dedupeIds(reports: CertificateReport[]): void {
  const seen = new Map<string, number>();
  for (const r of reports) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
  for (const r of reports) {
    if ((seen.get(r.id) ?? 0) < 2) continue;
    r.id = `${r.id.slice(0, 55)}-${shortHash(r.identifier ?? r.id)}`;
  }
}

/** Decodes text with a UTF-8 or UTF-16 (LE/BE) byte-order mark; no BOM means UTF-8. */
export function decodeText(bytes: Uint8Array): string {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder().decode(bytes.subarray(3));
  return new TextDecoder().decode(bytes);
}

export async function readText(path: string): Promise<string> {
  return decodeText(await readFile(path));
}

export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** A problem sentence naming the path and what to do about the error. */
export function fsProblem(path: string, err: unknown, what = "read"): string {
  const code = errnoCode(err);
  if (code === "EACCES" || code === "EPERM")
    return `cannot ${what} ${path}: permission denied — run the agent as root (or as the client's user) or grant it read access`;
  if (code === "ENOENT") return `cannot ${what} ${path}: it does not exist — check the path or the client's configuration`;
  if (code === "ENOTDIR") return `cannot ${what} ${path}: not a directory — check the configured path`;
  if (code === "ELOOP") return `cannot ${what} ${path}: too many symbolic links — fix the link`;
  const msg = err instanceof Error ? err.message : String(err);
  return `cannot ${what} ${path}: ${code ?? msg}`;
}

/**
 * Opens a client's root folder with `open` (a listing, a stat). A missing root means the client
 * is not installed here: null, and the scan stays "not found". Otherwise the client counts as
 * found, and a root that cannot be read is reported and marks the whole scan as failed (null).
 */
export async function openRoot<T>(root: string, out: ClientScan, open: () => Promise<T>, what = "list"): Promise<{ value: T } | null> {
  try {
    const value = await open();
    out.found = true;
    return { value };
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    out.found = true;
    out.rootUnreadable = true;
    out.problems.push(fsProblem(root, err, what));
    return null;
  }
}

/**
 * The report fields every reader fills alike, from the certificate (`facts`, null when it could
 * not be read; `notAfter` may instead come from the client's own record) and the renewal state.
 */
export function certState(
  facts: CertFacts | null | undefined,
  renewal: { notAfter?: number | null; nextRenewalAt: number | null | undefined; lastRenewalFailed: boolean; lastError: string | null | undefined },
  now: number,
): Pick<CertificateReport, "status" | "notBefore" | "notAfter" | "serial" | "issuer" | "nextRenewalAt" | "lastError"> {
  const notAfter = renewal.notAfter !== undefined ? renewal.notAfter : (facts?.notAfter ?? null);
  return {
    status: deriveStatus({ notAfter, nextRenewalAt: renewal.nextRenewalAt, lastRenewalFailed: renewal.lastRenewalFailed }, now),
    notBefore: boundedTime(facts?.notBefore),
    notAfter: boundedTime(notAfter),
    serial: facts?.serial ?? null,
    issuer: facts ? clip(facts.issuer, 512) : null,
    nextRenewalAt: boundedTime(renewal.nextRenewalAt),
    lastError: renewal.lastError ? clip(renewal.lastError, 2000) : null,
  };
}

/** Runs fn over items with at most `limit` in flight, keeping order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Lower-cased, unique, non-empty domain names in their first-seen order. */
export function uniqueDomains(list: Array<string | null | undefined>): string[] {
  const out: string[] = [];
  for (const d of list) {
    const v = d?.trim().toLowerCase();
    if (v && v.length <= 253 && !out.includes(v)) out.push(v);
  }
  return out.slice(0, 100);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Keeps text within a wire limit. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Where a scan looks: home directory, privileges, platform and environment (tests pass their own). */
export interface ScanEnvironment {
  home: string;
  isRoot: boolean;
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
}
