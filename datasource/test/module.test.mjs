// Loads the built dist/module.js the way Grafana does (an AMD define() with Grafana's shared
// modules as dependencies) and checks the plugin it exports. Run `npm run build` first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFile, stat } from 'node:fs/promises';
import vm from 'node:vm';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const require = createRequire(import.meta.url);
const React = require('react');
const { renderToString } = require('react-dom/server');
const grafanaData = require('@grafana/data');

// @grafana/ui and @grafana/runtime need a browser; Grafana provides them at run time, so the
// test provides small stand-ins: every UI component renders its children.
const ui = new Proxy(
  {},
  {
    get: (_, name) =>
      typeof name === 'string'
        ? function UI(props) {
            return React.createElement('div', { 'data-ui': name, 'data-label': props.label }, props.children);
          }
        : undefined,
  }
);
class DataSourceWithBackend {
  constructor(instanceSettings) {
    this.instanceSettings = instanceSettings;
    this.resources = [];
  }
  getResource(p, params) {
    this.resources.push([p, params]);
    return Promise.resolve(['q1']);
  }
}
const runtime = { DataSourceWithBackend, getTemplateSrv: () => ({ replace: (s) => s.replace('$job', 'api') }) };
const provided = { react: React, 'react-dom': require('react-dom'), '@grafana/data': grafanaData, '@grafana/ui': ui, '@grafana/runtime': runtime };

async function loadAMD() {
  const code = await readFile(path.join(dist, 'module.js'), 'utf8');
  const calls = [];
  const define = (deps, factory) => {
    calls.push(deps);
    return (calls.exports = factory(...deps.map((d) => {
      assert.ok(d in provided, `unexpected AMD dependency ${d}`);
      return provided[d];
    })));
  };
  define.amd = true;
  vm.runInNewContext(code, { define, console, window: {}, setTimeout, clearTimeout });
  assert.equal(calls.length, 1, 'module.js calls define() once');
  return { deps: calls[0], exports: calls.exports };
}

test('dist/module.js is an AMD module that exports a DataSourcePlugin', async () => {
  const { deps, exports } = await loadAMD();
  assert.ok(deps.includes('@grafana/data') && deps.includes('react'), `dependencies: ${deps}`);
  const { plugin } = exports;
  assert.ok(plugin instanceof grafanaData.DataSourcePlugin, 'plugin is a DataSourcePlugin');
  assert.equal(typeof plugin.components.ConfigEditor, 'function');
  assert.equal(typeof plugin.components.QueryEditor, 'function');
});

test('the data source class routes queries and resources', async () => {
  const { plugin } = (await loadAMD()).exports;
  const ds = new plugin.DataSourceClass({ id: 1, uid: 'kz', type: 'kizashi-anomaly-datasource', name: 'Kizashi', jsonData: {}, meta: {} });
  assert.equal(JSON.stringify(ds.annotations), '{}', 'annotations are enabled (incidents)');
  assert.equal(ds.getDefaultQuery('dashboard').queryType, 'anomaly');
  assert.equal(ds.filterQuery({ refId: 'A', expr: '' }), false);
  assert.equal(ds.filterQuery({ refId: 'A', expr: 'up' }), true);
  assert.equal(ds.filterQuery({ refId: 'A', queryType: 'incidents' }), true);
  assert.equal(ds.filterQuery({ refId: 'A', queryType: 'exported' }), false);
  assert.equal(ds.applyTemplateVariables({ refId: 'A', expr: 'up{job="$job"}' }, {}).expr, 'up{job="api"}');
  assert.deepEqual(await ds.exportedQueryNames(), ['q1']);
  // Objects made inside the bundle come from another realm: compare them as JSON.
  await ds.labelValues('instance', 'up');
  assert.equal(JSON.stringify(ds.resources.at(-1)), JSON.stringify(['label-values', { label: 'instance', 'match[]': 'up' }]));
});

test('the editors render', async () => {
  const { plugin } = (await loadAMD()).exports;
  const ds = new plugin.DataSourceClass({ jsonData: {} });
  for (const queryType of ['anomaly', 'forecast', 'exported', 'incidents']) {
    const html = renderToString(
      React.createElement(plugin.components.QueryEditor, {
        datasource: ds,
        query: { refId: 'A', queryType, expr: 'up' },
        onChange: () => {},
        onRunQuery: () => {},
      })
    );
    assert.match(html, /Query type/);
    assert.equal(/Horizon/.test(html), queryType === 'forecast', `horizon shown for ${queryType}`);
  }
  const html = renderToString(
    React.createElement(plugin.components.ConfigEditor, {
      options: { jsonData: { authType: 'bearer' }, secureJsonFields: { bearerToken: true } },
      onOptionsChange: () => {},
    })
  );
  assert.match(html, /Webhook URL/);
  assert.match(html, /Token/);
});

test('dist/plugin.json follows Grafana conventions', async () => {
  const p = JSON.parse(await readFile(path.join(dist, 'plugin.json'), 'utf8'));
  assert.equal(p.id, 'kizashi-anomaly-datasource');
  assert.equal(p.type, 'datasource');
  assert.equal(p.executable, 'gpx_kizashi');
  for (const k of ['backend', 'alerting', 'metrics', 'annotations']) {
    assert.equal(p[k], true, k);
  }
  assert.match(p.dependencies.grafanaDependency, /^>=\d+/);
  assert.doesNotMatch(p.info.version, /%/);
  await stat(path.join(dist, p.info.logos.small));
});
