// One-connection libSQL clients (local files: see db/client.ts) and interactive transactions.
//
// An interactive transaction holds the client's only connection across awaits. Without this
// gate, any other query issued meanwhile (another request, the agent's sync while a command's
// result is being stored) is refused at once by the client with TRANSACTION_ACTIVE. The gate
// makes those queries wait for the transaction to settle instead, and lets one transaction in
// at a time. Queries outside a transaction run as before, with no waiting: the client runs
// each of them synchronously on its connection.
import type { Client, Transaction } from "@libsql/client";

export function gateTransactions(client: Client): Client {
  let active: Promise<void> | null = null;

  const passThrough = <K extends "execute" | "batch" | "executeMultiple" | "migrate">(name: K) => {
    const original = (client[name] as ((...a: unknown[]) => unknown) | undefined)?.bind(client);
    return (async (...args: unknown[]) => {
      // Checked right before the call, with no await in between: another transaction may
      // have started while this one waited.
      while (active) await active;
      return original!(...args);
    }) as Client[K];
  };

  async function transaction(...args: Parameters<Client["transaction"]>): Promise<Transaction> {
    while (active) await active;
    let release!: () => void;
    active = new Promise<void>((r) => (release = r));
    const done = () => {
      if (!settled) {
        settled = true;
        active = null;
        release();
      }
    };
    let settled = false;
    let tx: Transaction;
    try {
      tx = await client.transaction(...args);
    } catch (err) {
      done();
      throw err;
    }
    // The connection is free once the transaction is closed (a failed commit leaves it open
    // until the rollback that follows).
    const settle = <K extends "commit" | "rollback">(name: K) =>
      (async () => {
        try {
          return await tx[name]();
        } finally {
          if (tx.closed || name === "rollback") done();
        }
      }) as Transaction[K];
    return new Proxy(tx, {
      get(target, prop, receiver) {
        if (prop === "commit" || prop === "rollback") return settle(prop);
        if (prop === "close")
          return () => {
            try {
              target.close();
            } finally {
              done();
            }
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
  }

  const gated = {
    execute: passThrough("execute"),
    batch: passThrough("batch"),
    executeMultiple: passThrough("executeMultiple"),
    migrate: passThrough("migrate"),
  };
  const wrappers = new Set<unknown>(Object.values(gated));
  return new Proxy(client, {
    // Code that wraps a method (tests adding latency) and later puts back what it read gets the
    // original back, not a gate wrapper calling itself.
    set(target, prop, value) {
      if (wrappers.has(value)) return Reflect.deleteProperty(target, prop);
      return Reflect.set(target, prop, value);
    },
    get(target, prop, receiver) {
      switch (prop) {
        case "execute":
        case "batch":
        case "executeMultiple":
        case "migrate":
          // A method someone put on the client (a test adding latency around what it read)
          // wins; it calls the gated one it read.
          return Object.hasOwn(target, prop) ? Reflect.get(target, prop) : gated[prop];
        case "transaction":
          return transaction;
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
