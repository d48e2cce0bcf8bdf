// After `tsc`: bundle the service into dist/bundle/: one entry per thread it starts (the command line and
// its worker entries) and the chunks they share. Loading ~1,500 modules one by one (resolving, reading and
// compiling each) was most of the time a restart took to become ready; a few files are read and compiled
// at once. Code split (`splitting`): what is imported dynamically (each command; mailauth, first used with
// a message) is a chunk of its own, read and compiled only when it is first imported, not at every start.
// Worker pools find their entry beside the calling module (util/worker-pool.ts), so every worker entry is
// emitted into the same folder as cli.js. Packages that read files of their own at run time (their
// __dirname) stay external and are loaded from node_modules as usual.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const dist = new URL('../dist/', import.meta.url);
const outdir = new URL('bundle/', dist);
rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: {
    cli: new URL('cli.js', dist).pathname,
    'feature-worker': new URL('pipeline/feature-worker.js', dist).pathname,
    'view-worker': new URL('api/view/view-worker.js', dist).pathname,
    'train-thread': new URL('classifier/train-thread.js', dist).pathname,
    'pglite-thread': new URL('store/pglite-thread.js', dist).pathname,
  },
  outdir: outdir.pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  target: 'node20',
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  external: [
    '@electric-sql/pglite', // its WebAssembly and data files
    'piscina', // starts its own worker file
    // @fastify/swagger is bundled: it shares the bundle's yaml instead of loading its own copy file by file.
    '@fastify/swagger-ui', // serves its static files
    'pino', // transports run files of its own
    'ioredis', // names its own folder in error stacks
  ],
  // CommonJS packages bundled into an ES module still call require() for Node's built-ins.
  banner: {
    js: [
      "import { createRequire as __bundleRequire } from 'node:module';",
      'const require = __bundleRequire(import.meta.url);',
    ].join('\n'),
  },
});
