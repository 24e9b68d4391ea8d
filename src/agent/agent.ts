// The agent runtime: its database, command executor, hub connection, certificate lifecycle and
// external ACME client scanner, plus the join, leave and status operations the local API
// exposes. Reports from the lifecycle and the scanner nudge a sync when they change.
import { randomBytes } from "node:crypto";
import { VERSION } from "../version";
import { CertificateLifecycle } from "./certificates/lifecycle";
import { ExternalScanner } from "./certificates/external-scan";
import { CommandExecutor } from "./commands";
import type { ScanEnvironment } from "./external";
import type { AgentConfig } from "./config";
import { AgentStore } from "./db/store";
import { hostFacts } from "./facts";
import { HubClientError, joinHub, normalizeHubUrl } from "./hub-client";
import { SyncEngine } from "./sync";
import { JOIN_WARNING } from "./warning";

export interface JoinInput {
  url: string;
  clientId: string;
  secret: string;
  fingerprint: string | null;
}

export interface AgentStatus {
  version: string;
  joined: boolean;
  hubUrl: string | null;
  instanceId: string | null;
  group: string | null;
  /** connected | connecting | hub unreachable | access revoked | removed from hub | not joined */
  status: string;
  accessRevoked: boolean;
  identity: "ok" | "conflict" | "none";
  lastSyncAt: number | null;
  lastError: string | null;
  syncIntervalSeconds: number | null;
  certificateCount: number;
  commands: { received: number; running: number; done: number; unacknowledgedResults: number };
  allowScripts: boolean;
  fingerprint: string | null;
  dataDir: string;
}

export class Agent {
  private joining: Promise<unknown> | null = null;

  private constructor(
    readonly config: AgentConfig,
    readonly store: AgentStore,
    readonly executor: CommandExecutor,
    readonly sync: SyncEngine,
    readonly certificates: CertificateLifecycle,
    readonly external: ExternalScanner,
    readonly log: (msg: string) => void,
  ) {}

  /**
   * `opts.dnsResolver` ("host:port") resolves certificate domains for the preflight through that
   * server instead of the system's (split DNS, tests against Pebble's challtestsrv);
   * `opts.scanEnv` overrides where the external ACME clients are looked for.
   */
  static async create(
    config: AgentConfig,
    log: (msg: string) => void = (m) => console.log(`[agent] ${m}`),
    opts: { dnsResolver?: string; scanEnv?: ScanEnvironment; verifyIntervalMs?: number } = {},
  ): Promise<Agent> {
    const store = await AgentStore.open(config.dataDir);
    let engine: SyncEngine | null = null;
    const nudge = () => engine?.syncNow();
    const executor = new CommandExecutor(store, { allowScripts: config.allowScripts, log, onResult: nudge });
    const certificates = new CertificateLifecycle({
      store,
      dataDir: config.dataDir,
      allowScripts: config.allowScripts,
      log,
      onChange: nudge,
      instanceId: () => engine?.current?.instanceId ?? null,
      dnsResolver: opts.dnsResolver,
      verifyIntervalMs: opts.verifyIntervalMs,
    });
    const external = new ExternalScanner({ store, log, onChange: nudge, env: opts.scanEnv });
    executor.certificates = certificates;
    executor.external = external;
    engine = new SyncEngine(store, executor, {
      bootId: randomBytes(12).toString("base64url"),
      log,
      allowScripts: config.allowScripts,
      reports: async () => ({
        certificates: [...(await certificates.reports()), ...external.certificates],
        accounts: await certificates.accountReports(),
        externalManagers: external.managers,
      }),
      onConfig: async (cfg) => {
        await certificates.applyConfig(cfg);
        // The externalManagers setting may have changed: rescan with it.
        void external.scanNow().catch(() => {});
      },
    });
    return new Agent(config, store, executor, engine, certificates, external, log);
  }

  get bootId(): string {
    return this.sync.bootId;
  }

  async start() {
    await this.executor.recoverInterrupted();
    await this.certificates.start();
    await this.external.start();
    await this.sync.start();
    void this.executor.kick();
  }

  async stop() {
    this.external.stop();
    await this.sync.stop();
    await this.executor.stop();
    await this.certificates.stop();
    this.store.close();
  }

  /** JOIN FLOW (agent side). Serialised: one join at a time. */
  async join(input: JoinInput): Promise<{ instanceId: string; hubUrl: string; group: string | null; alreadyJoined: boolean }> {
    while (this.joining) await this.joining.catch(() => {});
    const p = this.doJoin(input);
    this.joining = p;
    try {
      return await p;
    } finally {
      this.joining = null;
    }
  }

  private async doJoin(input: JoinInput) {
    const url = normalizeHubUrl(input.url);
    const current = this.sync.current;
    if (current && current.state === "joined" && current.url === url && current.clientId === input.clientId && (input.fingerprint ?? null) === current.fingerprint) {
      return { instanceId: current.instanceId, hubUrl: url, group: current.group, alreadyJoined: true };
    }
    this.log(`joining hub ${url} with client id ${input.clientId}`);
    this.log(JOIN_WARNING);
    const outcome = await joinHub({ ...input, url, facts: hostFacts(), bootId: this.bootId }).catch((err) => {
      this.log(`join failed: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    });
    if (current) await this.leaveHub(2000).catch(() => {}); // best effort: detach from the previous hub
    await this.store.saveJoin({
      url: outcome.url,
      clientId: input.clientId,
      fingerprint: input.fingerprint,
      pinnedCertPem: outcome.pinnedCertPem,
      instanceId: outcome.response.instanceId,
      publicKey: outcome.keyPair.publicKey,
      privateKey: outcome.keyPair.privateKeyPkcs8,
      group: outcome.response.group,
      syncIntervalSeconds: outcome.response.syncIntervalSeconds,
      joinedAt: Date.now(),
    });
    const link = (await this.store.getLink())!;
    this.sync.attach(link);
    this.log(`joined: instance ${link.instanceId}${link.group ? ` (group ${link.group})` : ""}`);
    return { instanceId: link.instanceId, hubUrl: url, group: link.group, alreadyJoined: false };
  }

  /** Tells the hub (if reachable) and forgets the identity. */
  async leave(): Promise<{ left: boolean; hubNotified: boolean; error?: string }> {
    if (!this.sync.current) return { left: false, hubNotified: false, error: "not joined to a hub" };
    let hubNotified = false;
    let error: string | undefined;
    try {
      await this.leaveHub(10_000);
      hubNotified = true;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const url = this.sync.current?.url;
    this.sync.forget();
    await this.store.clearLink();
    this.log(`left hub ${url}${hubNotified ? "" : ` (the hub was not told: ${error})`}`);
    return { left: true, hubNotified, ...(error ? { error } : {}) };
  }

  private async leaveHub(timeoutMs: number) {
    const client = this.sync.hubClient;
    const link = this.sync.current;
    if (!client || !link || link.state !== "joined") throw new HubClientError("hub", "this instance is not active on the hub");
    this.sync.detach();
    await client.post("leave", {}, { timeoutMs });
  }

  async status(): Promise<AgentStatus> {
    const link = this.sync.current;
    const s = this.sync;
    const status = !link
      ? "not joined"
      : link.state === "revoked"
        ? "access revoked"
        : link.state === "removed"
          ? "removed from hub"
          : s.connection === "unreachable"
            ? "hub unreachable"
            : s.connection;
    return {
      version: VERSION,
      // Still joined while revoked (the hub may reinstate it); not once the hub forgot it.
      joined: Boolean(link && link.state !== "removed"),
      hubUrl: link?.url ?? null,
      instanceId: link?.instanceId ?? null,
      group: link?.group ?? null,
      status,
      accessRevoked: link?.state === "revoked",
      identity: !link ? "none" : link.identityConflict ? "conflict" : "ok",
      lastSyncAt: s.lastSyncAt,
      lastError: s.lastError,
      syncIntervalSeconds: link?.syncIntervalSeconds ?? null,
      certificateCount: await this.store.certificateCount(),
      commands: await this.store.commandStats(),
      allowScripts: this.config.allowScripts,
      fingerprint: link?.fingerprint ?? null,
      dataDir: this.config.dataDir,
    };
  }
}
