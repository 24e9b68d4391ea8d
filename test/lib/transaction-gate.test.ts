// Queries issued while an interactive transaction holds a one-connection client wait for it
// instead of failing with TRANSACTION_ACTIVE (a sync arriving while a command result is stored).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openHubDatabase } from "../../src/db/client";
import { tempDir } from "../helpers";

test("queries and transactions overlapping on the one connection all succeed, in order", async () => {
  const { db, close } = await openHubDatabase(`file:${join(tempDir("gate-"), "hub.db")}`);
  try {
    await db.run(sql`create table t (n integer)`);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      work.push(
        db.transaction(async (tx) => {
          await tx.run(sql`insert into t values (${i})`);
          await Bun.sleep(2); // holds the connection across an await, like real rules do
          await tx.run(sql`insert into t values (${i + 100})`);
        }),
      );
      work.push(db.all(sql`select count(*) as n from t`)); // would be TRANSACTION_ACTIVE without the gate
    }
    const failing = db.transaction(async (tx) => {
      await tx.run(sql`insert into t values (-1)`);
      throw new Error("rolled back");
    });
    await expect(failing).rejects.toThrow("rolled back");
    await Promise.all(work);
    const [{ n }] = (await db.all(sql`select count(*) as n from t`)) as { n: number }[];
    expect(n).toBe(40);
    const [{ m }] = (await db.all(sql`select count(*) as m from t where n = -1`)) as { m: number }[];
    expect(m).toBe(0);
  } finally {
    close();
  }
});
