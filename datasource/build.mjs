// Bundles src/module.ts into dist/module.js as an AMD module (Grafana loads plugins with
// SystemJS and provides react, @grafana/* and friends itself), and copies plugin.json, img/,
// and, as grafana-plugin-examples' builds do, the plugin's README.md, the CHANGELOG.md and the
// LICENSE.
import { build } from 'esbuild';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(root, 'src');
// $KIZASHI_PLUGIN_DIST: another output directory (the release stages the plugin there).
const dist = process.env.KIZASHI_PLUGIN_DIST || path.join(root, 'dist');

// Modules Grafana shares with plugins at run time: never bundled.
const externals = [
  'react',
  'react-dom',
  'react/jsx-runtime',
  '@grafana/data',
  '@grafana/ui',
  '@grafana/runtime',
  '@grafana/schema',
  '@grafana/i18n',
  '@emotion/css',
  '@emotion/react',
  'lodash',
  'rxjs',
  'rxjs/operators',
];

const result = await build({
  entryPoints: [path.join(src, 'module.ts')],
  bundle: true,
  format: 'cjs',
  platform: 'browser',
  target: 'es2020',
  jsx: 'transform',
  minify: process.env.NODE_ENV !== 'development',
  sourcemap: false,
  external: externals,
  metafile: true,
  write: false,
  legalComments: 'none',
});

// The externals the bundle really requires, in a stable order, become the AMD dependencies.
const used = new Set();
for (const out of Object.values(result.metafile.outputs)) {
  for (const imp of out.imports) {
    if (imp.external) {
      used.add(imp.path);
    }
  }
}
const deps = externals.filter((e) => used.has(e));
const cjs = result.outputFiles[0].text;
const amd = `define(${JSON.stringify(deps)}, function () {
var __deps = ${JSON.stringify(deps)}, __mods = arguments;
var require = function (name) {
  var i = __deps.indexOf(name);
  if (i < 0) { throw new Error('kizashi: module ' + name + ' is not provided by Grafana'); }
  return __mods[i];
};
var module = { exports: {} }, exports = module.exports;
${cjs}
return module.exports;
});
`;

// Only our outputs are replaced: the backend binaries (gpx_kizashi_*) live in dist/ too.
await rm(path.join(dist, 'img'), { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await writeFile(path.join(dist, 'module.js'), amd);
const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
const pluginJSON = (await readFile(path.join(src, 'plugin.json'), 'utf8'))
  .replace('%VERSION%', pkg.version)
  .replace('%TODAY%', new Date().toISOString().slice(0, 10));
await writeFile(path.join(dist, 'plugin.json'), pluginJSON);
await cp(path.join(src, 'img'), path.join(dist, 'img'), { recursive: true });
for (const [name, from] of [
  ['README.md', path.join(root, 'README.md')],
  ['CHANGELOG.md', path.join(root, '..', 'CHANGELOG.md')],
  ['LICENSE', path.join(root, '..', 'LICENSE')],
]) {
  await cp(from, path.join(dist, name));
}
console.log(`dist/module.js: ${amd.length} bytes, AMD dependencies: ${deps.join(', ')}`);
