// Listen addresses as operators type them (--listen, agent.json), shared by the hub's and the
// agent's config modules and the CLI.
import { UsageError } from "./usage-error";

/** "HOST:PORT" / "[::1]:PORT" → parts. */
export function parseListen(value: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`invalid --listen "${value}" (expected HOST:PORT)`);
  return { hostname: (m[1] ?? m[2])!, port };
}
