// What the hub's rules need: the database, the fleet service (config versions, nudges,
// commands) and the stored-credential key. HubDeps satisfies it; tests may pass their own.
import type { HubDb } from "../../db/client";
import type { FleetService } from "../fleet";

export interface CoreDeps {
  db: HubDb;
  fleet: FleetService;
  secretKey: Uint8Array;
}
