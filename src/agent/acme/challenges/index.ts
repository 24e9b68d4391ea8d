// Challenge solvers: one per configured challenge kind. `present` puts the proof in place,
// `waitReady` returns once the CA could see it (DNS propagation), `cleanup` removes only ours.
import type { Challenge } from "../../../protocol/certificates";
import { execSolver } from "./dns01-exec";
import { rfc2136Solver } from "./dns01-rfc2136";
import { standaloneSolver } from "./http01-standalone";
import { webrootSolver } from "./http01-webroot";

export { checkToken, dns01Name, dns01Value, type ChallengeTask, type Presented, type Solver, type SolverContext } from "./common";
import type { Solver, SolverContext } from "./common";

export function solverFor(challenge: Challenge, ctx: SolverContext): Solver {
  if (challenge.type === "http-01") return "webroot" in challenge && challenge.webroot ? webrootSolver(challenge.webroot) : standaloneSolver(challenge as { address?: string; port?: number });
  if (challenge.provider === "rfc2136") return rfc2136Solver(challenge, ctx);
  return execSolver(challenge, ctx);
}

export function isWildcard(domain: string): boolean {
  return domain.startsWith("*.");
}
