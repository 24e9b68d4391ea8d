// The managed certificate lifecycle on the agent: one timer per certificate, orders run one at
// a time (two HTTP-01 listeners on one port would collide), each order recorded as an attempt
// with its steps and their durations.
//
// State machine (stored): pending → renewing → valid | failed; "expiring"/"expired" are derived
// from the clock (plan.ts). Crash safety: `orderStartedAt` is set before an order starts and
// cleared in the same transaction that switches the current-version pointer, so a process killed
// mid-order is found at start, recorded as interrupted and retried at once; the new version is
// written to a fresh directory first (files.ts), so nothing half-stored is ever current.
// `deployPending` does the same for the deployment tasks after a switch.
import type { Attempt, CaAccountSpec, CredentialForAgent, InstanceConfig, ManagedCertificateSpec } from "../../protocol/certificates";
import { ManagedCertificateSpecSchema } from "../../protocol/certificates";
import * as acme from "../acme";
import { getAccountKey, saveAccountState, accountReports } from "../db/accounts";
import { getManaged, listManaged, removeManagedExcept, updateManaged, upsertDefinition, withAttempt, type ManagedRow } from "../db/certificates";
import { loadInstanceConfig } from "../db/config";
import type { AgentStore } from "../db/store";
import { checkServed, mergeTaskResults, runDeployments, runOneTask, verifyTarget, withTestResult, type DeployableCertificate, type TaskResult } from "../deploy";
import { agentSettings } from "../settings";
import { pruneCertificates, pruneVersions, readVersion, removeCertificateFiles, versionPaths, writeVersion } from "./files";
import { backoffDelay, nextAriFetch, nextPlan, orderKey, renewalPolicy, type Window } from "./plan";
import { managedReport } from "./report";

type Step = Attempt["steps"][number];

export interface LifecycleOptions {
  store: AgentStore;
  dataDir: string;
  allowScripts: boolean;
  log: (msg: string) => void;
  /** A report changed: the sync engine should send it. */
  onChange: () => void;
  instanceId?: () => string | null;
  /** "host:port" of a DNS server for the preflight's name lookups (split DNS, tests). */
  dnsResolver?: string;
  /** How often the served certificate is checked again for certificates with `verify`. */
  verifyIntervalMs?: number;
  now?: () => number;
  random?: () => number;
}

/** Drift check of the served certificate (someone swapped the file, a service did not reload). */
export const VERIFY_INTERVAL_MS = 60 * 60_000;
/** Timers re-check at least this often (setTimeout cannot wait longer than ~24.8 days). */
const MAX_TIMER_MS = 6 * 3600_000;
const MESSAGE_LIMIT = 2000;
const MIN_RESCHEDULE_MS = 1000;

class PreflightFailed extends Error {}

export class CertificateLifecycle {
  private config: InstanceConfig | null = null;
  private timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Certificates with an order/test/deploy queued or running. */
  private busy = new Set<string>();
  /** Definitions edited on the hub while their order ran: order again once it ends. */
  private changedWhileBusy = new Set<string>();
  /** Certificates whose order is running now (from its first step to its last write). */
  private ordering = new Set<string>();
  /**
   * "Renew now" that arrived while an order of the same certificate ran: that order read the
   * plan before the request, and its end rewrites the plan, so the request is kept here and
   * becomes one more order once the running one ends (several requests coalesce into one).
   */
  private renewAfterOrder = new Set<string>();
  /** The next order of these certificates is such a queued "renew now" (said in its attempt). */
  private queuedRenewal = new Set<string>();
  private lastJobEnd = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private abort = new AbortController();
  private stopped = false;
  private verifyTimer: ReturnType<typeof setInterval> | null = null;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private opts: LifecycleOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  private get db() {
    return this.opts.store.db;
  }

  // ---- start / stop ---------------------------------------------------------------------------

  /** Loads the stored config, recovers from a crash, and schedules every certificate. */
  async start() {
    this.config = await loadInstanceConfig(this.db);
    const rows = await listManaged(this.db);
    pruneCertificates(this.opts.dataDir, rows.map((r) => r.id));
    for (const row of rows) {
      // Only the versions the row points at survive: anything else is from an interrupted order.
      pruneVersions(this.opts.dataDir, row.id, [row.currentDir, row.previousDir]);
      if (row.orderStartedAt != null) {
        const now = this.now();
        const attempt: Attempt = {
          at: row.orderStartedAt,
          kind: row.currentDir ? "renew" : "issue",
          outcome: "interrupted",
          message: "the agent stopped while this order ran; ordering again",
          steps: [],
        };
        await updateManaged(this.db, row.id, {
          status: row.currentDir ? "valid" : "pending",
          orderStartedAt: null,
          nextRenewalAt: now,
          renewalReason: row.renewalReason ?? "new",
          attempts: withAttempt(row, attempt),
        });
        this.opts.log(`certificate ${row.id}: an order was interrupted by a stop; retrying`);
      }
    }
    for (const row of await listManaged(this.db)) {
      if (row.deployPending && row.currentDir) void this.enqueue(row.id, () => this.deployCurrent(row.id, "success", true)).catch(() => {});
      else this.schedule(row.id);
    }
    this.verifyTimer = setInterval(() => void this.verifyServed().catch((e) => this.opts.log(`served check: ${errorText(e)}`)), this.opts.verifyIntervalMs ?? VERIFY_INTERVAL_MS);
  }

  /** Checks again what each verified certificate's endpoint serves; a change is reported. */
  async verifyServed() {
    for (const row of await listManaged(this.db)) {
      const spec = row.spec ? safeSpec(row.spec) : null;
      if (this.stopped || !spec?.verify || !row.currentDir || !row.serial || this.busy.has(row.id)) continue;
      const { served, target } = await checkVerifyTarget(spec, row.serial);
      const current = await getManaged(this.db, row.id);
      // Only when no renewal replaced the version meanwhile (its own check reports it).
      if (current && current.serial === row.serial && current.served !== served) {
        await updateManaged(this.db, row.id, { served });
        this.opts.log(`certificate ${row.id}: ${target} now ${served}`);
        this.opts.onChange();
      }
    }
  }

  async stop() {
    this.stopped = true;
    this.abort.abort();
    if (this.verifyTimer) clearInterval(this.verifyTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.race([this.queue.catch(() => {}), Bun.sleep(5000)]);
  }

  // ---- configuration ----------------------------------------------------------------------

  /** A new InstanceConfig from the hub (already stored): definitions added, changed, removed. */
  async applyConfig(config: InstanceConfig) {
    const previous = this.config;
    this.config = config;
    const before = new Map((await listManaged(this.db)).map((r) => [r.id, r]));
    const ids = config.certificates.map((c) => c.id);
    for (const spec of config.certificates) await upsertDefinition(this.db, spec, this.now());
    for (const gone of await removeManagedExcept(this.db, ids)) {
      this.cancel(gone.id);
      removeCertificateFiles(this.opts.dataDir, gone.id);
      this.opts.log(`certificate ${gone.id} (${gone.name}) was removed on the hub; its files here are deleted`);
    }
    for (const spec of config.certificates) {
      const old = before.get(spec.id);
      const oldSpec = old?.spec ? safeSpec(old.spec) : null;
      const changed = !oldSpec || orderKey(oldSpec) !== orderKey(spec);
      if (this.busy.has(spec.id)) {
        if (changed) this.changedWhileBusy.add(spec.id); // re-planned when the running job ends
        continue;
      }
      await this.replan(spec.id, changed);
      // A failing certificate whose CA account or credential was just edited (EAB added, TSIG
      // secret fixed) is tried again now rather than at the end of its back-off.
      if (!changed && old && old.failureCount > 0 && previous && dependencyKey(previous, spec) !== dependencyKey(config, spec)) {
        await updateManaged(this.db, spec.id, { nextRenewalAt: this.now(), renewalReason: "changed" });
        this.schedule(spec.id);
      }
    }
    this.opts.onChange();
  }

  /**
   * The hub's "renew now": all managed certificates, or one. Returns the ids queued. A
   * certificate whose order is running gets one more order right after it (renewAfterOrder).
   */
  async renewNow(certificateId?: string): Promise<string[]> {
    const rows = (await listManaged(this.db)).filter((r) => !certificateId || r.id === certificateId);
    for (const row of rows) {
      if (this.ordering.has(row.id)) {
        if (!this.renewAfterOrder.has(row.id)) this.opts.log(`certificate ${row.id}: renew now while its order runs: one more order follows it`);
        this.renewAfterOrder.add(row.id);
        continue;
      }
      await this.forceOrderNow(row.id);
      if (!this.busy.has(row.id)) this.schedule(row.id);
    }
    if (rows.length) this.opts.onChange();
    return rows.map((r) => r.id);
  }

  /** Runs the preflight for one certificate now; the result is also recorded as an attempt. */
  async test(certificateId: string): Promise<Attempt | null> {
    if (!(await getManaged(this.db, certificateId))) return null;
    return this.enqueue(certificateId, () => this.runPreflightAttempt(certificateId));
  }

  /** "Deploy now": the tasks again with the current version, without renewing. */
  async deploy(certificateId: string): Promise<TaskResult[] | null> {
    const row = await getManaged(this.db, certificateId);
    if (!row) return null;
    return this.enqueue(certificateId, () => this.deployCurrent(certificateId, "manual", false));
  }

  /** "Test task": the task at `index` alone, with the current certificate; its result is kept as the task's lastTest. */
  async testTask(certificateId: string, index: number): Promise<TaskResult | null> {
    if (!(await getManaged(this.db, certificateId))) return null;
    return this.enqueue(certificateId, async () => {
      const row = (await getManaged(this.db, certificateId))!;
      const spec = row.spec ? safeSpec(row.spec) : null;
      if (!spec) throw new Error("the certificate definition is not readable");
      const cert = row.currentDir ? this.deployable(row, spec) : null;
      const result = await runOneTask(spec.deployments, index, cert, { ...this.solverContext(), instanceId: this.opts.instanceId?.() ?? undefined, signal: this.abort.signal });
      await updateManaged(this.db, certificateId, { deployments: JSON.stringify(withTestResult(parseResults(row.deployments), result)) });
      this.opts.onChange();
      return result;
    });
  }

  async reports() {
    const now = this.now();
    return (await listManaged(this.db)).map((r) => managedReport(r, now));
  }

  async accountReports() {
    const accounts = (this.config?.caAccounts ?? []).map((a) => ({ id: a.id, directoryUrl: a.directoryUrl }));
    return accountReports(this.db, accounts);
  }

  // ---- scheduling ---------------------------------------------------------------------------

  private cancel(id: string) {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  /** Sets the timer of one certificate from its stored plan. */
  private schedule(id: string) {
    if (this.stopped) return;
    this.cancel(id);
    void (async () => {
      const row = await getManaged(this.db, id);
      if (!row || this.stopped || this.busy.has(id)) return;
      const due = Math.min(row.nextRenewalAt ?? Infinity, row.currentDir && row.ariFetchAt != null ? row.ariFetchAt : Infinity);
      if (!Number.isFinite(due)) return;
      // A job for this certificate just ended and it is due again (a database error kept the
      // plan from moving?): wait a little so nothing can spin.
      const floor = (this.lastJobEnd.get(id) ?? 0) > Date.now() - MIN_RESCHEDULE_MS ? MIN_RESCHEDULE_MS : 0;
      const delay = Math.min(MAX_TIMER_MS, Math.max(floor, due - this.now()));
      this.cancel(id); // another schedule() may have finished first: one timer per certificate
      const timer = setTimeout(() => void this.due(id).catch((e) => this.opts.log(`certificate ${id}: ${errorText(e)}`)), delay);
      this.timers.set(id, timer);
    })().catch((e) => this.opts.log(`certificate ${id}: cannot schedule: ${errorText(e)}`));
  }

  private async due(id: string) {
    this.timers.delete(id);
    let row = await getManaged(this.db, id);
    if (!row || this.stopped || this.busy.has(id)) return;
    const now = this.now();
    if (row.currentDir && row.ariFetchAt != null && row.ariFetchAt <= now) {
      await this.refreshAri(row);
      row = (await getManaged(this.db, id))!;
    }
    if (row.nextRenewalAt != null && row.nextRenewalAt <= this.now()) {
      // Checked again after the awaits above, with no await before enqueue: never two orders.
      if (this.busy.has(id) || this.stopped) return;
      void this.enqueue(id, () => this.order(id)).catch(() => {});
    } else {
      this.schedule(id);
    }
  }

  /** Runs `job` after every earlier job; the certificate is busy (not scheduled) meanwhile. */
  private enqueue<T>(id: string, job: () => Promise<T>): Promise<T> {
    this.busy.add(id);
    const run = this.queue.catch(() => {}).then(async () => {
      if (this.stopped) throw new Error("the agent is stopping");
      return job();
    });
    this.queue = run
      .catch(() => {})
      .then(() => this.afterJob(id))
      .catch((e) => this.opts.log(`certificate ${id}: ${errorText(e)}`))
      .finally(() => this.busy.delete(id));
    return run;
  }

  /** Marks a certificate to be ordered now, whatever its plan or last preflight says. */
  private async forceOrderNow(id: string) {
    await updateManaged(this.db, id, { forceOrder: true, nextRenewalAt: this.now(), renewalReason: "manual" });
  }

  /** After an order/test/deploy: apply what changed meanwhile, then set the next timer. */
  private async afterJob(id: string) {
    this.busy.delete(id);
    this.lastJobEnd.set(id, Date.now());
    const renewAgain = !this.ordering.has(id) && this.renewAfterOrder.delete(id);
    if (this.stopped) return;
    if (!(await getManaged(this.db, id))) {
      removeCertificateFiles(this.opts.dataDir, id); // deleted on the hub while its order ran
      return;
    }
    if (renewAgain) {
      await this.forceOrderNow(id);
      this.queuedRenewal.add(id);
      this.opts.onChange(); // the hub shows the plan: renewing now
    }
    const changed = this.changedWhileBusy.delete(id);
    if (changed) await this.replan(id, true);
    else this.schedule(id);
  }

  /** Re-computes the plan of one certificate from its state and the current settings. */
  private async replan(id: string, definitionChanged: boolean) {
    const row = await getManaged(this.db, id);
    if (!row?.spec) return;
    const spec = safeSpec(row.spec);
    if (!spec) return;
    const settings = await agentSettings(this.opts.store);
    const plan = nextPlan(
      {
        hasCert: Boolean(row.currentDir),
        notBefore: row.notBefore,
        notAfter: row.notAfter,
        ordered: row.orderedKey === orderKey(spec),
        definitionChanged,
        forceOrder: row.forceOrder,
        failureCount: row.failureCount,
        nextRenewalAt: row.nextRenewalAt,
        renewalReason: row.renewalReason,
        ariWindow: parseWindow(row.ariWindow),
      },
      renewalPolicy(spec, settings),
      this.now(),
      this.random(),
    );
    if (plan.at !== row.nextRenewalAt || plan.reason !== row.renewalReason) {
      await updateManaged(this.db, id, { nextRenewalAt: plan.at, renewalReason: plan.reason });
      this.opts.onChange(); // the hub shows the plan
    }
    this.schedule(id);
  }

  /** Asks the CA for its renewal window (RFC 9773) and re-plans inside it. */
  private async refreshAri(row: ManagedRow) {
    const account = this.account(row);
    const now = this.now();
    if (!account || !row.currentDir) {
      await updateManaged(this.db, row.id, { ariFetchAt: nextAriFetch(now, null) }); // ask later, never spin
      return;
    }
    try {
      const { certPem } = readVersion(this.opts.dataDir, row.id, row.currentDir);
      const info = await acme.getRenewalInfo({ directoryUrl: account.directoryUrl, trustedRootsPem: account.trustedRootsPem, certPem, signal: this.abort.signal });
      const window = info ? { start: info.start, end: info.end } : null;
      await updateManaged(this.db, row.id, { ariWindow: window ? JSON.stringify(window) : null, ariFetchAt: info ? nextAriFetch(now, info.retryAfterMs) : null });
    } catch (err) {
      // ARI is advisory: keep the lifetime plan and ask again later.
      await updateManaged(this.db, row.id, { ariFetchAt: nextAriFetch(now, null) });
      this.opts.log(`certificate ${row.id}: renewal information unavailable: ${errorText(err)}`);
    }
    await this.replan(row.id, false);
  }

  // ---- one order ----------------------------------------------------------------------------

  private account(row: ManagedRow): CaAccountSpec | null {
    const spec = row.spec ? safeSpec(row.spec) : null;
    return this.config?.caAccounts.find((a) => a.id === spec?.caAccountId) ?? null;
  }

  private solverContext() {
    const credentials = new Map<string, CredentialForAgent>((this.config?.credentials ?? []).map((c) => [c.id, c]));
    return { credentials, allowScripts: this.opts.allowScripts, log: this.opts.log, ...(this.opts.dnsResolver ? { dnsResolver: this.opts.dnsResolver } : {}) };
  }

  private async order(id: string) {
    // Marked before the first await: a "renew now" from here on is queued behind this order.
    this.ordering.add(id);
    try {
      await this.orderOnce(id);
    } finally {
      this.ordering.delete(id);
    }
  }

  private async orderOnce(id: string) {
    const queuedRenewal = this.queuedRenewal.delete(id);
    const row = await getManaged(this.db, id);
    if (!row) return;
    const spec = row.spec ? safeSpec(row.spec) : null;
    if (!spec) {
      // Cannot happen with a validated config; never leave a due plan behind (it would spin).
      await updateManaged(this.db, id, { nextRenewalAt: null, lastError: "the certificate definition is not readable; waiting for the hub to send it again" });
      return;
    }
    const startedAt = this.now();
    const kind = row.currentDir ? "renew" : "issue";
    const forced = row.forceOrder;
    const key = orderKey(spec);
    const steps: Step[] = [];
    await updateManaged(this.db, id, { status: "renewing", orderStartedAt: startedAt });
    this.opts.onChange();
    this.opts.log(`certificate ${id} (${spec.name}): ordering (${row.renewalReason ?? kind})`);
    const signal = this.abort.signal;
    const ctx = this.solverContext();

    try {
      const account = this.account(row);
      if (!account) throw new Error(`CA account ${spec.caAccountId} is not available to this instance (deleted on the hub, or out of scope?)`);

      if (!forced && row.orderedKey !== key) {
        const reports = await timed(steps, "preflight", () => acme.preflight({ domains: spec.domains, challenge: spec.challenge, ctx, signal }), true);
        steps.pop(); // replaced by the per-domain reports
        steps.push(...reports.map(toStep));
        const bad = reports.find((r) => r.outcome === "failed");
        if (bad) throw new PreflightFailed(`preflight failed${bad.domain ? ` for ${bad.domain}` : ""}: ${bad.message ?? "no detail"}`);
      }

      const accountKey = await timed(steps, "account", () => this.ensureAccount(account, signal));
      const replaces = row.currentDir && row.ariCertId && this.sameCa(row, account) ? row.ariCertId : undefined;
      const issued = await acme.issueCertificate({
        directoryUrl: account.directoryUrl,
        trustedRootsPem: account.trustedRootsPem,
        account: accountKey,
        domains: spec.domains,
        keyType: spec.keyType,
        challenge: spec.challenge,
        ctx,
        ...(replaces ? { replaces } : {}),
        ...(spec.profile ? { profile: spec.profile } : {}),
        ...(spec.preferredChain ? { preferredChain: spec.preferredChain } : {}),
        onStep: (s) => steps.push(toStep(s)),
        signal,
      });
      if (this.stopped) throw new Error("the agent is stopping");

      const serial = issued.serial.toLowerCase().replace(/[^0-9a-f]/g, "");
      const dir = await timed(steps, "store", async () => writeVersion(this.opts.dataDir, id, serial, issued));
      // The switch: one transaction moves the pointers, records the facts, clears the marker.
      const settings = await agentSettings(this.opts.store);
      const plan = nextPlan(
        { hasCert: true, notBefore: issued.notBefore, notAfter: issued.notAfter, ordered: true, definitionChanged: false, forceOrder: false, failureCount: 0, nextRenewalAt: null, renewalReason: null, ariWindow: null },
        renewalPolicy(spec, settings),
        this.now(),
        this.random(),
      );
      await updateManaged(this.db, id, {
        status: "valid",
        previousDir: row.currentDir && row.currentDir !== dir ? row.currentDir : row.previousDir,
        currentDir: dir,
        serial,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
        issuer: issued.issuer,
        ariCertId: issued.ariCertId,
        ariWindow: null,
        ariFetchAt: this.now(), // ask the CA for its window right away (next timer)
        orderedKey: key,
        failureCount: 0,
        lastError: null,
        forceOrder: false,
        orderStartedAt: null,
        deployPending: true,
        nextRenewalAt: plan.at,
        renewalReason: plan.reason,
        served: null,
      });
      const after = (await getManaged(this.db, id))!;
      pruneVersions(this.opts.dataDir, id, [after.currentDir, after.previousDir]);
      this.opts.log(`certificate ${id} (${spec.name}): issued serial ${serial}, valid until ${new Date(issued.notAfter).toISOString()}`);

      await this.deployAfterOrder(id, spec, steps, startedAt, kind, serial, queuedRenewal ? " (renew now, asked for while the previous order ran)" : "");
    } catch (err) {
      await this.recordFailure(id, spec, steps, startedAt, kind, err);
    }
  }

  private sameCa(row: ManagedRow, account: CaAccountSpec): boolean {
    // `replaces` only makes sense at the CA that issued the current version; the account id is
    // part of the ordered key, so an unchanged key means the same CA account.
    const spec = row.spec ? safeSpec(row.spec) : null;
    return Boolean(spec && row.orderedKey === orderKey(spec) && spec.caAccountId === account.id);
  }

  private async ensureAccount(account: CaAccountSpec, signal: AbortSignal) {
    const stored = await getAccountKey(this.db, account.id, account.directoryUrl);
    const existing = stored?.keyJwk && stored.accountUrl ? { accountUrl: stored.accountUrl, keyJwk: JSON.parse(stored.keyJwk) as JsonWebKey } : null;
    const settings = await agentSettings(this.opts.store);
    const email = account.email || settings.defaultContactEmail || undefined;
    try {
      const key = await acme.ensureAccount({ directoryUrl: account.directoryUrl, trustedRootsPem: account.trustedRootsPem, email, eab: account.eab, existing, signal });
      if (!existing || existing.accountUrl !== key.accountUrl || stored?.status !== "registered") {
        await saveAccountState(this.db, account.id, account.directoryUrl, { status: "registered", accountUrl: key.accountUrl, keyJwk: JSON.stringify(key.keyJwk), message: null });
        this.opts.onChange();
      }
      return key;
    } catch (err) {
      await saveAccountState(this.db, account.id, account.directoryUrl, { status: "error", message: errorText(err).slice(0, MESSAGE_LIMIT) });
      this.opts.onChange();
      throw err;
    }
  }

  private async recordFailure(id: string, spec: ManagedCertificateSpec, steps: Step[], startedAt: number, kind: Attempt["kind"], err: unknown) {
    const row = await getManaged(this.db, id);
    if (!row) return;
    const message = errorText(err).slice(0, MESSAGE_LIMIT);
    if (this.stopped) {
      // Stopping is not the CA's fault: leave the marker so the next start retries at once.
      this.opts.log(`certificate ${id}: order stopped with the agent`);
      return;
    }
    const failures = row.failureCount + 1;
    const lifetime = row.notAfter != null && row.notBefore != null ? row.notAfter - row.notBefore : null;
    // A CA that says when to come back (rate limit, 503 Retry-After) is not asked earlier.
    const caWait = err instanceof acme.AcmeProblem && err.retryAfterMs ? Math.min(err.retryAfterMs, 7 * 86_400_000) : 0;
    const at = this.now() + Math.max(backoffDelay(failures, lifetime), caWait);
    const attempt: Attempt = { at: startedAt, kind, outcome: "failed", message, steps: steps.slice(0, 64) };
    await updateManaged(this.db, id, {
      status: "failed",
      failureCount: failures,
      lastError: message,
      forceOrder: false,
      orderStartedAt: null,
      nextRenewalAt: at,
      renewalReason: "backoff",
      attempts: withAttempt(row, attempt),
    });
    this.opts.log(`certificate ${id} (${spec.name}): order failed (${failures} in a row), next try ${new Date(at).toISOString()}: ${message}`);
    this.opts.onChange();
    if (spec.deployments.some((t) => t.trigger === "failure" || t.trigger === "always")) {
      const cert = row.currentDir ? this.deployable(row, spec) : null;
      const results = await runDeployments(spec.deployments, cert, "failure", { ...this.solverContext(), instanceId: this.opts.instanceId?.() ?? undefined, signal: this.abort.signal });
      await updateManaged(this.db, id, { deployments: storedResults(row, results) });
      this.opts.onChange();
    }
  }

  // ---- deployments --------------------------------------------------------------------------

  private deployable(row: ManagedRow, spec: ManagedCertificateSpec): DeployableCertificate {
    const pems = readVersion(this.opts.dataDir, row.id, row.currentDir!);
    return {
      id: row.id,
      name: spec.name,
      domains: spec.domains,
      serial: row.serial!,
      notBefore: row.notBefore!,
      notAfter: row.notAfter!,
      ...pems,
      files: versionPaths(this.opts.dataDir, row.id, row.currentDir!),
    };
  }

  /** Runs the tasks and the served check; returns the tasks' results and the extra steps. */
  private async runTasks(row: ManagedRow, spec: ManagedCertificateSpec, outcome: "success" | "manual") {
    const steps: Step[] = [];
    const cert = this.deployable(row, spec);
    let results: TaskResult[] = [];
    if (spec.deployments.length) {
      const t0 = performance.now();
      results = await runDeployments(spec.deployments, cert, outcome, { ...this.solverContext(), instanceId: this.opts.instanceId?.() ?? undefined, signal: this.abort.signal });
      const failed = results.filter((r) => r.lastResult.outcome === "failed");
      steps.push({ name: "deploy", outcome: failed.length ? "failed" : "ok", ms: ms(t0), message: failed.length ? failed.map((f) => `task ${f.index + 1} (${f.type}): ${f.lastResult.message}`).join("; ").slice(0, MESSAGE_LIMIT) : `${results.length} task(s)` });
    }
    let served: string | null = null;
    if (spec.verify) {
      const t0 = performance.now();
      const check = await checkVerifyTarget(spec, cert.serial);
      served = check.served;
      steps.push({ name: "verify", outcome: served === "served" ? "ok" : "failed", ms: ms(t0), message: `${check.target}: ${served}`.slice(0, MESSAGE_LIMIT) });
    }
    return { results, steps, served };
  }

  private async deployAfterOrder(id: string, spec: ManagedCertificateSpec, steps: Step[], startedAt: number, kind: Attempt["kind"], serial: string, why = "") {
    const row = (await getManaged(this.db, id))!;
    const { results, steps: more, served } = await this.runTasks(row, spec, "success");
    steps.push(...more);
    const deployFailed = more.find((s) => s.outcome === "failed");
    const attempt: Attempt = {
      at: startedAt,
      kind,
      outcome: "succeeded",
      message: deployFailed ? `issued ${serial}${why}; deployment warning: ${deployFailed.message ?? ""}`.slice(0, MESSAGE_LIMIT) : `issued ${serial}${why}`,
      serial,
      steps: steps.slice(0, 64),
    };
    await updateManaged(this.db, id, { deployments: storedResults(row, results), served, deployPending: false, attempts: withAttempt(row, attempt) });
    this.opts.onChange();
  }

  /** Deployment of the current version: "Deploy now", or tasks a crash left unfinished. */
  private async deployCurrent(id: string, outcome: "success" | "manual", resumed: boolean): Promise<TaskResult[]> {
    const row = await getManaged(this.db, id);
    const spec = row?.spec ? safeSpec(row.spec) : null;
    if (!row || !spec) return [];
    if (!row.currentDir) throw new Error("no certificate has been issued yet: nothing to deploy");
    const startedAt = this.now();
    const { results, steps, served } = await this.runTasks(row, spec, outcome);
    const failed = steps.find((s) => s.outcome === "failed");
    const attempt: Attempt = {
      at: startedAt,
      kind: "deploy",
      outcome: failed ? "failed" : "succeeded",
      message: (failed ? `deployment of ${row.serial}: ${failed.message ?? "failed"}` : `deployed ${row.serial}${resumed ? " (resumed after a restart)" : ""}`).slice(0, MESSAGE_LIMIT),
      serial: row.serial ?? undefined,
      steps,
    };
    await updateManaged(this.db, id, { deployments: storedResults(row, results), served, deployPending: false, attempts: withAttempt(row, attempt) });
    this.opts.onChange();
    return results;
  }

  // ---- preflight ----------------------------------------------------------------------------

  private async runPreflightAttempt(id: string): Promise<Attempt> {
    const row = (await getManaged(this.db, id))!;
    const spec = safeSpec(row.spec ?? "");
    const startedAt = this.now();
    let attempt: Attempt;
    if (!spec) {
      attempt = { at: startedAt, kind: "preflight", outcome: "failed", message: "the certificate definition is not readable", steps: [] };
    } else {
      try {
        const reports = await acme.preflight({ domains: spec.domains, challenge: spec.challenge, ctx: this.solverContext(), signal: this.abort.signal });
        const steps = reports.map(toStep);
        const bad = steps.filter((s) => s.outcome === "failed");
        attempt = {
          at: startedAt,
          kind: "preflight",
          outcome: bad.length ? "failed" : "succeeded",
          message: bad.length ? bad.map((s) => `${s.domain ?? s.name}: ${s.message ?? "failed"}`).join("; ").slice(0, MESSAGE_LIMIT) : `preflight passed for ${spec.domains.length} domain(s)`,
          steps: steps.slice(0, 64),
        };
      } catch (err) {
        attempt = { at: startedAt, kind: "preflight", outcome: "failed", message: errorText(err).slice(0, MESSAGE_LIMIT), steps: [] };
      }
    }
    await updateManaged(this.db, id, { attempts: withAttempt(row, attempt) });
    this.opts.onChange();
    return attempt;
  }
}

// ---- helpers ------------------------------------------------------------------------------------

/**
 * The served check of a certificate with `verify`; `target` says where it looked (host:port,
 * SNI, "first domain" when no host was given) or why it could not look (all domains wildcards:
 * reported as unreachable, with the reason in the step).
 */
async function checkVerifyTarget(spec: ManagedCertificateSpec, serial: string): Promise<{ served: "served" | "stale" | "unreachable"; target: string }> {
  let t;
  try {
    t = verifyTarget(spec.verify ?? {}, spec.domains);
  } catch (err) {
    return { served: "unreachable", target: errorText(err) };
  }
  return { served: await checkServed({ host: t.host, port: t.port, servername: t.servername, expectedSerial: serial }), target: t.label };
}

function parseResults(json: string | null | undefined): TaskResult[] | null {
  try {
    const v = JSON.parse(json ?? "null");
    return Array.isArray(v) ? (v as TaskResult[]) : null;
  } catch {
    return null;
  }
}

/** New results to store: trigger-skipped tasks keep their last real result, tests stay. */
function storedResults(row: Pick<ManagedRow, "deployments">, results: TaskResult[]): string {
  return JSON.stringify(mergeTaskResults(parseResults(row.deployments), results));
}

function safeSpec(json: string): ManagedCertificateSpec | null {
  try {
    const parsed = ManagedCertificateSpecSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** What a certificate's order depends on besides its definition: its CA account and credential. */
function dependencyKey(config: InstanceConfig, spec: ManagedCertificateSpec): string {
  const account = config.caAccounts.find((a) => a.id === spec.caAccountId) ?? null;
  const credentialId = "credentialId" in spec.challenge ? spec.challenge.credentialId : null;
  const credential = credentialId ? (config.credentials.find((c) => c.id === credentialId) ?? null) : null;
  return JSON.stringify([account, credential]);
}

function parseWindow(json: string | null): Window | null {
  if (!json) return null;
  try {
    const w = JSON.parse(json) as Window;
    return Number.isFinite(w.start) && Number.isFinite(w.end) ? w : null;
  } catch {
    return null;
  }
}

const ms = (t0: number) => Math.min(86_400_000, Math.max(0, Math.round(performance.now() - t0)));

function toStep(s: acme.StepReport): Step {
  return {
    name: s.name,
    outcome: s.outcome,
    ms: Math.min(86_400_000, Math.max(0, Math.round(s.ms))),
    ...(s.domain ? { domain: s.domain.slice(0, 253) } : {}),
    ...(s.message ? { message: s.message.slice(0, MESSAGE_LIMIT) } : {}),
  };
}

/** Runs one step and records it (ok, or failed with the error's message) with its duration. */
async function timed<T>(steps: Step[], name: Step["name"], fn: () => Promise<T>, keepOnSuccess = true): Promise<T> {
  const t0 = performance.now();
  try {
    const v = await fn();
    if (keepOnSuccess) steps.push({ name, outcome: "ok", ms: ms(t0) });
    return v;
  } catch (err) {
    steps.push({ name, outcome: "failed", ms: ms(t0), message: errorText(err).slice(0, MESSAGE_LIMIT) });
    throw err;
  }
}

/** An error in the CA's own words where it gave some (ACME problem detail and type). */
export function errorText(err: unknown): string {
  if (err instanceof acme.AcmeProblem) {
    const type = err.type ? err.type.replace(/^urn:ietf:params:acme:error:/, "") : "";
    return type ? `${err.detail} (${type})` : err.detail;
  }
  return err instanceof Error ? err.message : String(err);
}
