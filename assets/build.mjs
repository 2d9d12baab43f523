// Builds the editor bundles served from web/static/vendor/ (run by `make assets`, after `npm ci`):
//   nadzor-modeler/modeler.js + .css       window.NadzorModeler  (bpmn-js Modeler, properties, lint)
//   nadzor-form-editor/form-editor.js + .css window.NadzorFormEditor (form-js editor)
//   nadzor-dmn/dmn-modeler.js + .css        window.NadzorDmn (dmn-js Modeler)
// The pages run under `script-src 'self'` without 'unsafe-eval', so the build fails when a
// bundle contains eval() or new Function(): better a red `make` than an editor that breaks in the
// browser. Prints how long each bundle took.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vendor = join(root, 'web', 'static', 'vendor');

// form-js-editor pins preact <= 10.15.1 (its own copy in its node_modules) while form-js-viewer,
// whose components the editor renders, takes the newest one: two copies of preact in one
// component tree break its hooks ("Cannot read properties of undefined (reading 'context')").
// The form bundle uses the editor's copy everywhere, as form-js's own UMD build does.
const require = createRequire(import.meta.url);
const formEditorDir = dirname(require.resolve('@bpmn-io/form-js-editor/package.json'));
const editorPreact = dirname(require.resolve('preact/package.json', { paths: [formEditorDir] }));

const bundles = [
  { entry: 'modeler.js', out: join(vendor, 'nadzor-modeler', 'modeler.js') },
  {
    entry: 'form-editor.js',
    out: join(vendor, 'nadzor-form-editor', 'form-editor.js'),
    alias: { preact: editorPreact }
  },
  { entry: 'dmn-modeler.js', out: join(vendor, 'nadzor-dmn', 'dmn-modeler.js') }
];

// code the browser would refuse under the app's CSP (no 'unsafe-eval')
const FORBIDDEN = /\beval\s*\(|\bnew\s+Function\s*\(|\bFunction\s*\(\s*["'`]/g;
// lodash's last resort for the global object: `… || self || Function("return this")()`; in a
// browser `self` exists, so it is never called (the browser test watches for CSP violations)
const HARMLESS = '||Function("return this")()';

// dom-iterator (inlined in selection-ranges, which dmn-js uses) compiles string selectors with
// new Function(); selection-ranges never passes one. Replace that branch so no eval is shipped.
const noStringSelectors = {
  name: 'dom-iterator-without-eval',
  setup(b) {
    b.onLoad({ filter: /[\\/](dom-iterator[\\/]index|selection-ranges[\\/]dist[\\/]index)\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      const evil = "return new Function('node', 'Object.freeze(node); return ' + props(expr, 'node.'));";
      if (!source.includes(evil)) {
        throw new Error(`${path}: the new Function() line to replace is gone; check the new version`);
      }
      const safe = "throw new Error('dom-iterator: string selectors need eval, refused by the CSP');";
      return { contents: source.replace(evil, safe), loader: 'js' };
    });
  }
};

async function one({ entry, out, alias }) {
  const started = Date.now();
  await build({
    entryPoints: [join(root, 'assets', entry)],
    outfile: out,
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    legalComments: 'linked',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
    loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
    assetNames: '[name]-[hash]',
    plugins: [noStringSelectors],
    alias
  });
  const code = readFileSync(out, 'utf8');
  for (const found of code.matchAll(FORBIDDEN)) {
    const at = found.index;
    if (code.startsWith(HARMLESS, at - 2)) {
      continue;
    }
    throw new Error(`${out}: "${found[0]}" found (the CSP forbids eval): …${code.slice(Math.max(0, at - 80), at + 80)}…`);
  }
  console.log(`${out.slice(root.length + 1)}: ${(code.length / 1024 / 1024).toFixed(1)} MB in ${Date.now() - started} ms`);
}

const started = Date.now();
await Promise.all(bundles.map(one));
console.log(`editor bundles built in ${Date.now() - started} ms`);
