// The external ACME client scan loop: scans at start, periodically (setting
// externalScanIntervalMinutes, default 15) and on the hub's "refresh now"; the result is cached
// in agent.db (reported between scans and after a restart) and a change nudges a sync. The readers themselves live in src/agent/external/.
import type { CertificateReport, ExternalManagerReport } from "../../protocol/certificates";
import { loadExternalScan, saveExternalScan, type ExternalScanCache } from "../db/external";
import type { AgentStore } from "../db/store";
import { scanExternalManagers, type ScanEnvironment } from "../external";
import { agentSettings } from "../settings";

export const EXTERNAL_SCAN_INTERVAL_MS = 15 * 60_000;

export class ExternalScanner {
  private cache: ExternalScanCache | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<ExternalScanCache> | null = null;
  private next: Promise<ExternalScanCache> | null = null;
  private nextFresh = false;
  private intervalFromSettings = EXTERNAL_SCAN_INTERVAL_MS;
  private stopped = false;

  constructor(
    private opts: { store: AgentStore; log: (msg: string) => void; onChange: () => void; intervalMs?: number; env?: ScanEnvironment },
  ) {}

  async start() {
    this.cache = await loadExternalScan(this.opts.store.db);
    void this.scanNow().catch(() => {});
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get certificates(): CertificateReport[] {
    return this.cache?.certificates ?? [];
  }

  get managers(): ExternalManagerReport[] {
    return this.cache?.managers ?? [];
  }

  /**
   * Scans now (joins a scan already running) and re-arms the periodic timer. Periodic scans
   * report only content changes (a new scannedAt alone is not sent to a large fleet's hub every
   * 15 minutes); an explicit refresh (`fresh`) always reports, so the hub sees the new time.
   */
  scanNow(fresh = false): Promise<ExternalScanCache> {
    if (this.running) {
      // A scan already under way may have read older settings (or predate what the caller just
      // changed on disk): run one more right after it, shared by every caller meanwhile.
      this.nextFresh ||= fresh;
      this.next ??= this.running.catch(() => {}).then(() => {
        const f = this.nextFresh;
        this.next = null;
        this.nextFresh = false;
        return this.scanNow(f);
      });
      return this.next;
    }
    this.running = this.scan(fresh).finally(() => {
      this.running = null;
      if (this.timer) clearTimeout(this.timer);
      if (!this.stopped) this.timer = setTimeout(() => void this.scanNow().catch(() => {}), this.opts.intervalMs ?? this.intervalFromSettings);
    });
    return this.running;
  }

  private async scan(fresh: boolean): Promise<ExternalScanCache> {
    const settings = await agentSettings(this.opts.store);
    this.intervalFromSettings = settings.externalScanIntervalMinutes * 60_000;
    try {
      const result = await scanExternalManagers(settings.externalManagers, this.opts.env);
      const next: ExternalScanCache = { certificates: result.certificates, managers: result.managers, scannedAt: Date.now() };
      // scannedAt alone changing is not news: compare the content.
      const before = this.cache ? JSON.stringify([this.cache.certificates, stripTimes(this.cache.managers)]) : null;
      const after = JSON.stringify([next.certificates, stripTimes(next.managers)]);
      const changed = fresh || before !== after;
      if (changed || !this.cache) {
        this.cache = next;
        await saveExternalScan(this.opts.store.db, next);
      }
      if (changed) this.opts.onChange();
      return this.cache;
    } catch (err) {
      this.opts.log(`external certificate scan failed: ${err instanceof Error ? err.message : err}`);
      throw err;
    }
  }
}

function stripTimes(managers: ExternalManagerReport[]) {
  return managers.map(({ scannedAt: _s, ...rest }) => rest);
}
