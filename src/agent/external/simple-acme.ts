// simple-acme reader: the maintained fork of win-acme, same renewal files (see wacs.ts).
import type { ClientScan, ReaderInput } from "./common";
import { readWacs } from "./wacs";

export function readSimpleAcme(input: ReaderInput): Promise<ClientScan> {
  return readWacs("simple-acme", input);
}
