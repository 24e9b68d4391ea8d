// win-acme reader (2.2.x, archived; simple-acme continues it with the same files, see wacs.ts).
import type { ClientScan, ReaderInput } from "./common";
import { readWacs } from "./wacs";

export function readWinAcme(input: ReaderInput): Promise<ClientScan> {
  return readWacs("win-acme", input);
}
