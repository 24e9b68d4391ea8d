// SQL for scoped tables (settings, credentials, CA accounts): rows of the scopes that apply
// to one instance, or of exactly one scope.
import { and, eq, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

export interface ScopeColumns {
  scope: SQLiteColumn;
  scopeId: SQLiteColumn;
}

/** Rows of global scope, of the instance's group and of the instance itself. */
export function forInstance(t: ScopeColumns, inst: { id: string; groupName: string | null }): SQL {
  return or(
    eq(t.scope, "global"),
    inst.groupName ? and(eq(t.scope, "group"), eq(t.scopeId, inst.groupName)) : sql`0`,
    and(eq(t.scope, "instance"), eq(t.scopeId, inst.id)),
  )!;
}

export function exactScope(t: ScopeColumns, s: { scope: string; scopeId: string }): SQL {
  return and(eq(t.scope, s.scope), eq(t.scopeId, s.scopeId))!;
}
