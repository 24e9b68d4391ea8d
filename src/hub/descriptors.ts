// Open-file budget of the hub process: reads the limit, counts descriptors in use cheaply and
// tells the server when to shed. Why: at the limit Bun's accept loop spins on EMFILE (100 % of
// a core) and nobody gets in — admin pages, /healthz, agents. Shedding early (closing idle
// keep-alives, `Connection: close`, refusing new long-polls) keeps a margin so that never
// happens, whatever a client does with idle connections.
import { readdirSync, readFileSync, statSync } from "node:fs";

/** Idle keep-alive connections of anyone but a waiting agent are closed after this long. */
export const IDLE_TIMEOUT_SECONDS = 10;

/** Soft RLIMIT_NOFILE of this process (what EMFILE is measured against); null where unknown. */
export function readOpenFileLimit(): number | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    if (!soft || soft === "unlimited") return null;
    const n = Number(soft);
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * Descriptors open in this process. Linux ≥ 6.2 reports the count as the size of
 * /proc/self/fd (a few µs); older kernels need a directory listing (~1 ms per 1,000 fds),
 * which the caller then samples less often.
 */
export function countOpenDescriptors(): { count: number; cheap: boolean } | null {
  try {
    const size = statSync("/proc/self/fd").size;
    if (size > 0) return { count: size, cheap: true };
    return { count: readdirSync("/proc/self/fd").length, cheap: false };
  } catch {
    return null;
  }
}

export interface DescriptorBudget {
  limit: number;
  /** Above this many open descriptors the hub sheds. */
  shedAt: number;
  /** Shedding stops once usage falls below this (hysteresis, so it does not flap). */
  resumeAt: number;
  /** Above this, held long-polls are released too: the last margin before EMFILE. */
  criticalAt: number;
}

export function descriptorBudget(limit: number): DescriptorBudget {
  // The margin absorbs what the runtime accepts between two samples (it accepts natively,
  // whatever JS is doing): a flood reconnecting ~2,000 times a second fills 5 % of 1,024 in 25 ms.
  const margin = Math.max(64, Math.round(limit * 0.08));
  return {
    limit,
    criticalAt: limit - margin,
    shedAt: Math.max(16, Math.floor(limit * 0.85) - margin),
    resumeAt: Math.max(8, Math.floor(limit * 0.7) - margin),
  };
}

/** How many agents can hold their push connection before the hub starts shedding. */
export function agentsAllowed(budget: DescriptorBudget, baseline: number): number {
  return Math.max(0, budget.shedAt - baseline);
}

export type Pressure = "normal" | "shedding" | "critical";

export interface DescriptorGuard {
  readonly budget: DescriptorBudget | null;
  readonly pressure: Pressure;
  /** Last sampled count (null where it cannot be read). */
  readonly inUse: number | null;
  stop(): void;
}

/**
 * Samples the descriptor count every `intervalMs` (10× less often where counting is
 * expensive; 5× more often while shedding, when connections come faster than they go) and
 * calls `onTick` with the pressure level; the server acts on it.
 */
export function startDescriptorGuard(opts: {
  limit: number | null;
  intervalMs?: number;
  onTick: (pressure: Pressure, inUse: number, budget: DescriptorBudget) => void;
}): DescriptorGuard {
  const budget = opts.limit ? descriptorBudget(opts.limit) : null;
  let pressure: Pressure = "normal";
  let inUse: number | null = countOpenDescriptors()?.count ?? null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const interval = opts.intervalMs ?? 100;
  const tick = () => {
    const sample = countOpenDescriptors();
    if (!sample || !budget) return; // nothing to measure against: no shedding
    inUse = sample.count;
    if (inUse >= budget.criticalAt) pressure = "critical";
    else if (inUse >= budget.shedAt) pressure = "shedding";
    else if (inUse < budget.resumeAt) pressure = "normal";
    else if (pressure === "critical") pressure = "shedding";
    try {
      opts.onTick(pressure, inUse, budget);
    } catch {}
    const next = pressure === "normal" ? interval : interval / 5;
    timer = setTimeout(tick, sample.cheap ? next : next * 10);
    timer.unref?.();
  };
  if (budget) {
    timer = setTimeout(tick, interval);
    timer.unref?.();
  }
  return {
    budget,
    get pressure() {
      return pressure;
    },
    get inUse() {
      return inUse;
    },
    stop: () => clearTimeout(timer),
  };
}
