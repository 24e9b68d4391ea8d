// Shared CLI argument parsing (node:util parseArgs, strict: unknown flags are errors).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ZodError } from "zod";
import { UsageError } from "../lib/usage-error";

// Re-exported: every command module reports usage mistakes with it.
export { UsageError };
export { parseListen } from "../lib/listen";

export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Options every hub-side command accepts (they all open the hub database). */
export const hubDbOptions = {
  "data-dir": { type: "string" },
  "db-url": { type: "string" },
} as const;

/** "30d", "12h", "90m", "3600s" → milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(value.trim());
  if (!m) throw new UsageError(`invalid duration "${value}" (use e.g. 90m, 12h, 30d, 2w)`);
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[m[2] as "s"];
  return Number(m[1]) * unit;
}

/**
 * A rule failure in words for the terminal: a zod error (raw, it prints as JSON) becomes
 * "--title is too long (at most 100 characters)", one sentence per problem.
 */
export function describeCliError(err: unknown): string | null {
  if (!(err instanceof ZodError)) return null;
  return err.issues
    .slice(0, 5)
    .map((i) => {
      const field = i.path.length ? `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : "the input";
      const n = (i as { maximum?: number | bigint; minimum?: number | bigint }).maximum ?? (i as { minimum?: number | bigint }).minimum;
      const origin = (i as { origin?: string }).origin;
      if (i.code === "too_big") return origin === "string" ? `${field} is too long (at most ${n} characters)` : `${field} is too large (at most ${n})`;
      if (i.code === "too_small") return origin === "string" ? (Number(n) <= 1 ? `${field} must not be empty` : `${field} is too short (at least ${n} characters)`) : `${field} is too small (at least ${n})`;
      return `${field}: ${i.message.charAt(0).toLowerCase()}${i.message.slice(1)}`;
    })
    .join("; ");
}
