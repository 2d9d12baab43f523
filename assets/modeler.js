// Entry point of web/static/vendor/nadzor-modeler/modeler.js (built by `make assets` with
// esbuild, see build.mjs). Exposes window.NadzorModeler:
//   create({container, propertiesParent, keyboardBind?, locale?, translations?, formFiles?,
//           procedures?}) -> bpmn-js Modeler with the properties panel (bpmn-js's groups + ours,
//           properties-provider.js), the spiffworkflow moddle extension and bpmnlint as you draw
//           (modeler.get('linting')).
//   Viewer       NavigatedViewer (read-only pages), knowing the spiffworkflow extension too.
//   markProblems(modeler, problems) marks the engine's Check problems on their elements.
//   translations {ru, kk}: the built-in dictionaries.
// The bpmn.io watermark stays (its licence asks for it).
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import 'bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css';
import './modeler.css';

import BpmnModeler from 'bpmn-js/lib/Modeler';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule
} from 'bpmn-js-properties-panel';
import lintModule from 'bpmn-js-bpmnlint';

import spiffworkflow from './spiffworkflow.json';
import NadzorPropertiesProvider from './properties-provider.js';
import lintConfig from './lint-config.js';
import builtIn from './translations.js';

/**
 * bpmn-js-bpmnlint lints asynchronously and draws its overlays when the lint is done; a modeler
 * destroyed in between (a page that re-creates its editor) would throw from a canvas that is
 * gone. Its own guard against stale results is `_lintStart`: a destroyed modeler makes every
 * pending result stale.
 */
function LintAfterDestroyGuard(eventBus, linting) {
  eventBus.on('diagram.destroy', () => {
    linting._lintStart = 'destroyed';
  });
}
LintAfterDestroyGuard.$inject = ['eventBus', 'linting'];

const lintGuardModule = {
  __init__: ['nadzorLintGuard'],
  nadzorLintGuard: ['type', LintAfterDestroyGuard]
};

const nadzorPropertiesModule = {
  __init__: ['nadzorPropertiesProvider'],
  nadzorPropertiesProvider: ['type', NadzorPropertiesProvider]
};

/**
 * A translate function (the diagram-js `translate` service) over `dictionary`: the English
 * template is looked up, then {placeholders} are filled in — the same contract as diagram-js's
 * own translate.
 */
function translator(dictionary) {
  return function translate(template, replacements) {
    const text = Object.prototype.hasOwnProperty.call(dictionary, template) ? dictionary[template] : template;
    const values = replacements || {};
    return text.replace(/{([^}]+)}/g, (match, key) =>
      Object.prototype.hasOwnProperty.call(values, key) ? values[key] : match);
  };
}

function asList(value) {
  if (!value) {
    return undefined;
  }
  return typeof value === 'function' ? value : () => value;
}

/**
 * The editor's Modeler.
 * keyboardBind: false turns keyboard shortcuts off (default on: bpmn-js binds them to the
 * canvas itself, an element given here only means "on").
 */
function create(options) {
  const opts = options || {};
  const dictionary = Object.assign({}, builtIn[opts.locale] || {}, opts.translations || {});
  return new BpmnModeler({
    container: opts.container,
    keyboard: { bind: opts.keyboardBind !== false },
    propertiesPanel: opts.propertiesParent ? { parent: opts.propertiesParent } : undefined,
    linting: { active: true, bpmnlint: lintConfig },
    nadzorProperties: {
      formFiles: asList(opts.formFiles),
      procedures: asList(opts.procedures)
    },
    moddleExtensions: { spiffworkflow },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      nadzorPropertiesModule,
      lintModule,
      lintGuardModule,
      { translate: ['value', translator(dictionary)] }
    ]
  });
}

/** NavigatedViewer that also reads spiffworkflow extension elements (names in kk/en). */
class Viewer extends NavigatedViewer {
  constructor(options) {
    const opts = options || {};
    super(Object.assign({}, opts, {
      moddleExtensions: Object.assign({ spiffworkflow }, opts.moddleExtensions || {})
    }));
  }
}

const MARKER = 'nadzor-problem';
const marked = new WeakMap();

/**
 * Marks each problem ({message, element_id, …}, as the engine's Check returns them) on its
 * element: a red outline (canvas marker 'nadzor-problem') and a note with the message (set as
 * text, never as HTML). Clears the marks of the previous call. Returns the problems that name no
 * element of this diagram, for the page to list.
 */
function markProblems(modeler, problems) {
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const registry = modeler.get('elementRegistry');
  (marked.get(modeler) || []).forEach((id) => {
    if (registry.get(id)) {
      canvas.removeMarker(id, MARKER);
    }
  });
  overlays.remove({ type: MARKER });
  const ids = [];
  const unplaced = [];
  const notes = {};
  (problems || []).forEach((problem) => {
    const id = problem && problem.element_id;
    const element = id && registry.get(id);
    if (!element) {
      unplaced.push(problem);
      return;
    }
    (notes[id] = notes[id] || []).push(String(problem.message || ''));
    if (ids.indexOf(id) < 0) {
      ids.push(id);
      canvas.addMarker(id, MARKER);
    }
  });
  ids.forEach((id) => {
    const note = document.createElement('div');
    note.className = 'nadzor-problem-note';
    note.setAttribute('role', 'note');
    note.textContent = notes[id].join('\n');
    const element = registry.get(id);
    const position = element.waypoints ? { top: 0, left: 0 } : { top: (element.height || 0) + 4, left: 0 };
    overlays.add(id, MARKER, { position, html: note });
  });
  marked.set(modeler, ids);
  return unplaced;
}

window.NadzorModeler = { create, Viewer, markProblems, translations: builtIn };
