// Entry point of web/static/vendor/nadzor-modeler/modeler.js (built by `make assets` with esbuild).
// Exposes window.NadzorModeler: create() gives the editor's bpmn-js Modeler with the properties
// panel; Viewer is the NavigatedViewer for read-only pages.
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';

import BpmnModeler from 'bpmn-js/lib/Modeler';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule
} from 'bpmn-js-properties-panel';

function create(options) {
  const opts = options || {};
  return new BpmnModeler({
    container: opts.container,
    keyboard: opts.keyboardBind ? { bindTo: opts.keyboardBind } : undefined,
    propertiesPanel: opts.propertiesParent ? { parent: opts.propertiesParent } : undefined,
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule]
  });
}

window.NadzorModeler = { create, Viewer: NavigatedViewer };
