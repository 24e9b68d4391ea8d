// A certificate's versions on disk: layout, modes, complete-or-absent versions, pruning of
// leftovers from an interrupted order, and names that cannot escape the data dir.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { listVersions, pruneCertificates, pruneVersions, readVersion, versionPaths, writeVersion } from "../../../src/agent/certificates/files";
import { tempDir } from "../../helpers";

const pems = { certPem: "CERT\n", chainPem: "CHAIN\n", fullchainPem: "CERT\nCHAIN\n", keyPem: "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n" };
const mode = (p: string) => statSync(p).mode & 0o777;

describe("certificate files", () => {
  test("a version is <data-dir>/certificates/<id>/<serial>/ with the four certbot names; key 0600, dirs 0700", () => {
    const dataDir = tempDir("certhub-files-");
    const dir = writeVersion(dataDir, "mc_1", "0a1b2c", pems);
    expect(dir).toBe("0a1b2c");
    const p = versionPaths(dataDir, "mc_1", dir);
    expect(p.cert).toBe(path.join(dataDir, "certificates", "mc_1", "0a1b2c", "cert.pem"));
    expect(readFileSync(p.fullchain, "utf8")).toBe(pems.fullchainPem);
    expect(readFileSync(p.chain, "utf8")).toBe(pems.chainPem);
    expect(mode(p.key)).toBe(0o600);
    expect(mode(p.cert)).toBe(0o644);
    expect(mode(path.dirname(p.cert))).toBe(0o700);
    expect(mode(path.join(dataDir, "certificates", "mc_1"))).toBe(0o700);
    expect(readVersion(dataDir, "mc_1", dir)).toEqual(pems);
  });

  test("only complete versions appear: no temporary directory is left after a write", () => {
    const dataDir = tempDir("certhub-files-");
    writeVersion(dataDir, "mc_1", "01", pems);
    writeVersion(dataDir, "mc_1", "02", { ...pems, certPem: "CERT2\n" });
    expect(listVersions(dataDir, "mc_1")).toEqual(["01", "02"]);
  });

  test("pruning keeps current and previous and removes leftovers of an interrupted order", () => {
    const dataDir = tempDir("certhub-files-");
    for (const s of ["01", "02", "03"]) writeVersion(dataDir, "mc_1", s, pems);
    // what a kill -9 during writeVersion leaves behind
    const tmp = path.join(dataDir, "certificates", "mc_1", ".tmp-04-abcdef");
    mkdirSync(tmp);
    writeFileSync(path.join(tmp, "cert.pem"), "half");
    const removed = pruneVersions(dataDir, "mc_1", ["03", "02"]);
    expect(removed.sort()).toEqual([".tmp-04-abcdef", "01"]);
    expect(listVersions(dataDir, "mc_1")).toEqual(["02", "03"]);
  });

  test("a rewrite of an unreferenced leftover with the same serial replaces it whole", () => {
    const dataDir = tempDir("certhub-files-");
    writeVersion(dataDir, "mc_1", "05", { ...pems, keyPem: "old" });
    writeVersion(dataDir, "mc_1", "05", pems);
    expect(readVersion(dataDir, "mc_1", "05")).toEqual(pems);
  });

  test("certificate folders without a definition are removed", () => {
    const dataDir = tempDir("certhub-files-");
    writeVersion(dataDir, "keep", "01", pems);
    writeVersion(dataDir, "gone", "01", pems);
    pruneCertificates(dataDir, ["keep"]);
    expect(existsSync(path.join(dataDir, "certificates", "keep"))).toBe(true);
    expect(existsSync(path.join(dataDir, "certificates", "gone"))).toBe(false);
  });

  test("ids and serials cannot name paths outside the data dir", () => {
    const dataDir = tempDir("certhub-files-");
    expect(() => writeVersion(dataDir, "..", "01", pems)).toThrow(/unsafe/);
    expect(() => writeVersion(dataDir, "a/../../b", "01", pems)).toThrow(/unsafe/);
    expect(() => writeVersion(dataDir, "mc", "../x", pems)).toThrow(/unsafe/);
    expect(existsSync(path.join(dataDir, "certificates"))).toBe(false);
  });
});
