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

// What the module reads of each module Grafana provides, recorded as the tests run.
const used = { '@grafana/data': new Set(), '@grafana/ui': new Set(), '@grafana/runtime': new Set() };
const recorded = (name, mod) =>
  new Proxy(mod, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop !== '__esModule') {
        used[name].add(prop);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
const provided = {
  react: React,
  'react-dom': require('react-dom'),
  '@grafana/data': recorded('@grafana/data', grafanaData),
  '@grafana/ui': recorded('@grafana/ui', ui),
  '@grafana/runtime': recorded('@grafana/runtime', runtime),
};

// The Grafana versions the module runs in are those whose @grafana/* packages export what it
// uses: all of these are exported by @grafana/ui, @grafana/data and @grafana/runtime 10.4.0 and
// later (checked against the packages published on npm: 10.4.0, 11.0.0, and 13.2.2 that the
// build compiles against). React is Grafana's: the bundle calls React.createElement and hooks,
// no JSX runtime, which React 18 (Grafana 10.4-12) and 19 both provide. Using anything else
// means checking the oldest version that has it, and plugin.json's grafanaDependency.
const grafanaImports = {
  '@grafana/data': ['DataSourcePlugin'],
  '@grafana/runtime': ['DataSourceWithBackend', 'getTemplateSrv'],
  '@grafana/ui': ['DataSourceHttpSettings', 'FieldSet', 'InlineField', 'InlineFieldRow', 'Input', 'MultiSelect', 'RadioButtonGroup', 'Select', 'SecretInput', 'TextArea'],
};
const grafanaDependency = '>=10.4.0';

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
    assert.equal(/Time zone/.test(html), queryType === 'anomaly' || queryType === 'forecast', `time zone shown for ${queryType}`);
    assert.equal(/Holidays/.test(html), queryType === 'anomaly' || queryType === 'forecast', `holidays shown for ${queryType}`);
  }
  const html = renderToString(
    React.createElement(plugin.components.ConfigEditor, {
      options: { jsonData: { authType: 'bearer' }, secureJsonFields: { bearerToken: true } },
      onOptionsChange: () => {},
    })
  );
  assert.match(html, /Webhook URL/);
  assert.match(html, /Token/);
  assert.match(html, /Time zone/);
  assert.match(html, /Holidays/);
});

test('dist/plugin.json follows Grafana conventions', async () => {
  const p = JSON.parse(await readFile(path.join(dist, 'plugin.json'), 'utf8'));
  assert.equal(p.id, 'kizashi-anomaly-datasource');
  assert.equal(p.type, 'datasource');
  assert.equal(p.executable, 'gpx_kizashi');
  for (const k of ['backend', 'alerting', 'metrics', 'annotations']) {
    assert.equal(p[k], true, k);
  }
  assert.equal(p.dependencies.grafanaDependency, grafanaDependency);
  assert.doesNotMatch(p.info.version, /%/);
  await stat(path.join(dist, p.info.logos.small));
});

test('the module uses only what Grafana 10.4 and later provide', async () => {
  const { plugin } = (await loadAMD()).exports;
  const ds = new plugin.DataSourceClass({ id: 1, uid: 'kz', type: 'kizashi-anomaly-datasource', name: 'Kizashi', jsonData: {}, meta: {} });
  ds.applyTemplateVariables({ refId: 'A', expr: 'up' }, {});
  await ds.metricNames();
  for (const queryType of ['anomaly', 'forecast', 'exported', 'incidents']) {
    renderToString(
      React.createElement(plugin.components.QueryEditor, { datasource: ds, query: { refId: 'A', queryType, expr: 'up' }, onChange: () => {}, onRunQuery: () => {} })
    );
  }
  for (const authType of ['none', 'bearer']) {
    renderToString(React.createElement(plugin.components.ConfigEditor, { options: { jsonData: { authType } }, onOptionsChange: () => {} }));
  }
  for (const [name, want] of Object.entries(grafanaImports)) {
    // (That 13.2.2 exports them is what `tsc --noEmit` checks before these tests.)
    assert.deepEqual([...used[name]].sort(), [...want].sort(), `${name}: what the module uses`);
  }
});
