// The command executor: runs received commands one at a time in sequence order, each at most
// once (the inbox row is marked "running" before the handler starts; a crash leaves it there
// and it is reported as interrupted instead of being run again). Results go to the outbox in
// the same transaction that marks the command done, and stay there until the hub acks them.
import type { AgentStore } from "../db/store";
import type { CertificateLifecycle } from "../certificates/lifecycle";
import type { ExternalScanner } from "../certificates/external-scan";
import { handlerFor } from "./registry";
import type { HandlerResult } from "./types";

export class CommandExecutor {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  /** Set by the agent once built (they need the executor's sync engine and vice versa). */
  certificates?: CertificateLifecycle;
  external?: ExternalScanner;

  constructor(
    private store: AgentStore,
    private opts: { allowScripts: boolean; log: (msg: string) => void; onResult: () => void },
  ) {}

  /** Reports commands a previous process was running when it died. */
  async recoverInterrupted() {
    for (const row of await this.store.interruptedCommands()) {
      await this.store.complete(row, {
        status: "failed",
        message: "interrupted: the agent stopped while this command ran; not run again (at most once)",
      });
    }
  }

  /** Starts working through the inbox (coalesces concurrent kicks). */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.drain();
      } while (this.again && !this.stopped);
    })()
      .catch((err) => this.opts.log(`command executor: ${err instanceof Error ? err.message : err}; retrying at the next sync`))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async drain() {
    while (!this.stopped) {
      const row = await this.store.nextCommand();
      if (!row) return;
      await this.store.markRunning(row.id);
      let result: HandlerResult;
      const handler = handlerFor(row.type);
      try {
        result = handler
          ? await handler(JSON.parse(row.payload), { store: this.store, allowScripts: this.opts.allowScripts, log: this.opts.log, certificates: this.certificates, external: this.external })
          : { status: "rejected", message: `unknown command type "${row.type}" (agent too old?)` };
      } catch (err) {
        result = { status: "failed", message: `command failed: ${err instanceof Error ? err.message : String(err)}` };
      }
      await this.store.complete(row, result);
      this.opts.onResult();
    }
  }

  /** Stops after the current command; a long one (a script) is left behind after 5 s and
   * reported as interrupted at the next start. */
  async stop() {
    this.stopped = true;
    if (this.running) await Promise.race([this.running, Bun.sleep(5000)]);
  }
}
