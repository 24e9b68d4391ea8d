// Preloaded into `bun test` (scripts/test.ts passes --preload): after the whole run, stop hubs
// still running and remove every tempDir(). A global afterAll only works from a preload.
import { afterAll } from "bun:test";
import { cleanup } from "./index";

afterAll(cleanup);
