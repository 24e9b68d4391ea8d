#!/usr/bin/env bun
// Builds the self-contained certhub binary.
//
//   bun scripts/build.ts                 → dist/certhub (this host)
//   bun scripts/build.ts --all           → dist/certhub-{linux-x64,linux-arm64,darwin-x64,darwin-arm64}
//   bun scripts/build.ts --target darwin-arm64 [--target …]   → dist/certhub-darwin-arm64
//
// `bun build --compile` embeds all JS (plus text imports: migrations, htmx, CSS), but not
// libsql's native addon: node_modules/libsql/index.js loads it with a dynamic
// require(`@libsql/${target}`). A plugin rewrites that into a static require of the target's
// index.node, which Bun then embeds. Native packages for other platforms are fetched with
// `npm pack` into .build-cache/ at the version libsql pins.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { BunPlugin } from "bun";

const ROOT = resolve(import.meta.dir, "..");
const DIST = join(ROOT, "dist");
const CACHE = join(ROOT, ".build-cache");

type Platform = "linux-x64" | "linux-arm64" | "darwin-x64" | "darwin-arm64";
const ALL: Platform[] = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"];

/** Bun compile target and the @libsql native package for each platform. */
const TARGETS: Record<Platform, { bun: string; libsql: string }> = {
  "linux-x64": { bun: "bun-linux-x64", libsql: "linux-x64-gnu" },
  "linux-arm64": { bun: "bun-linux-arm64", libsql: "linux-arm64-gnu" },
  "darwin-x64": { bun: "bun-darwin-x64", libsql: "darwin-x64" },
  "darwin-arm64": { bun: "bun-darwin-arm64", libsql: "darwin-arm64" },
};

function hostPlatform(): Platform {
  const p = `${process.platform}-${process.arch}`;
  if (!(p in TARGETS)) throw new Error(`unsupported host platform ${p}`);
  return p as Platform;
}

/** The version of the @libsql/* native packages that the installed libsql expects. */
function libsqlNativeVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "node_modules/libsql/package.json"), "utf8"));
  const v = pkg.optionalDependencies?.["@libsql/linux-x64-gnu"];
  if (v) return v;
  const installed = join(ROOT, "node_modules/@libsql/linux-x64-gnu/package.json");
  return JSON.parse(readFileSync(installed, "utf8")).version;
}

/** Absolute path of index.node for a platform: installed copy if it matches, else npm pack. */
async function nativeAddon(platform: Platform): Promise<string> {
  const name = TARGETS[platform].libsql;
  const version = libsqlNativeVersion();
  const installedDir = join(ROOT, "node_modules/@libsql", name);
  if (existsSync(join(installedDir, "index.node"))) {
    const v = JSON.parse(readFileSync(join(installedDir, "package.json"), "utf8")).version;
    if (v === version) return join(installedDir, "index.node");
  }
  const dir = join(CACHE, `libsql-${name}-${version}`);
  const addon = join(dir, "package", "index.node");
  if (existsSync(addon)) return addon;
  mkdirSync(dir, { recursive: true });
  console.log(`fetching @libsql/${name}@${version} …`);
  const pack = Bun.spawnSync(
    ["npm", "pack", `@libsql/${name}@${version}`, "--pack-destination", dir, "--json"],
    { cwd: dir, stdout: "pipe", stderr: "pipe" },
  );
  if (pack.exitCode !== 0) {
    throw new Error(`npm pack @libsql/${name}@${version} failed:\n${pack.stderr.toString()}`);
  }
  const [info] = JSON.parse(pack.stdout.toString());
  const tgz = join(dir, info.filename);
  const untar = Bun.spawnSync(["tar", "-xzf", tgz, "-C", dir], { stderr: "pipe" });
  if (untar.exitCode !== 0 || !existsSync(addon)) {
    throw new Error(`could not extract ${tgz}: ${untar.stderr.toString()}`);
  }
  return addon;
}

/** Rewrites libsql's dynamic native require into a static one so Bun embeds the addon. */
function embedLibsql(addonPath: string): BunPlugin {
  return {
    name: "embed-libsql-native",
    setup(build) {
      build.onLoad({ filter: /node_modules[\\/]libsql[\\/]index\.js$/ }, async (args) => {
        const src = await Bun.file(args.path).text();
        const dynamic = "require(`@libsql/${target}`)";
        if (!src.includes(dynamic)) {
          throw new Error(`${args.path}: expected ${dynamic}; libsql changed, update scripts/build.ts`);
        }
        return { contents: src.replace(dynamic, `require(${JSON.stringify(addonPath)})`), loader: "js" };
      });
    },
  };
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function build(platform: Platform, outfile: string, entry: string): Promise<void> {
  const started = performance.now();
  const addon = await nativeAddon(platform);
  mkdirSync(dirname(outfile), { recursive: true });
  let result: Awaited<ReturnType<typeof Bun.build>>;
  try {
    result = await Bun.build({
      entrypoints: [entry],
      compile: { target: TARGETS[platform].bun as any, outfile },
      minify: true,
      sourcemap: "inline",
      plugins: [embedLibsql(addon)],
    });
  } catch (err) {
    // Bun throws an AggregateError whose .errors are the build messages.
    for (const e of (err as any)?.errors ?? [err]) console.error(e);
    throw new Error(`build for ${platform} failed`);
  }
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build for ${platform} failed`);
  }
  // The source map is embedded in the binary (stack traces point at src/); drop the side file.
  rmSync(`${outfile}.map`, { force: true });
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`built ${outfile.replace(ROOT + "/", "")} (${platform}, ${mb(statSync(outfile).size)}) in ${secs}s`);
}

async function main(argv: string[]): Promise<number> {
  const targets: Platform[] = [];
  let entry = join(ROOT, "src/main.ts");
  let outfile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--all") targets.push(...ALL);
    else if (a === "--entry") entry = resolve(argv[++i]); // for experiments; default src/main.ts
    else if (a === "--outfile") outfile = resolve(argv[++i]); // single-target builds only
    else if (a === "--target") {
      const t = argv[++i] as Platform;
      if (!(t in TARGETS)) {
        console.error(`unknown target ${t}; one of ${ALL.join(", ")}`);
        return 2;
      }
      targets.push(t);
    } else {
      console.error(`usage: bun scripts/build.ts [--all | --target ${ALL.join("|")}] [--outfile F] [--entry F]`);
      return 2;
    }
  }
  const jobs: Array<[Platform, string]> =
    targets.length === 0
      ? [[hostPlatform(), outfile ?? join(DIST, "certhub")]]
      : [...new Set(targets)].map((t) => [t, join(DIST, `certhub-${t}`)]);
  if (outfile && jobs.length === 1) jobs[0][1] = outfile;
  else if (outfile) {
    console.error("--outfile needs a single target");
    return 2;
  }
  for (const [platform, out] of jobs) await build(platform, out, entry);
  console.log("\nbinary sizes:");
  for (const [, out] of jobs) console.log(`  ${mb(statSync(out).size).padStart(9)}  ${out.replace(ROOT + "/", "")}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`build: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
