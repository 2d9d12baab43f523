// Entry point of web/static/vendor/nadzor-dmn/dmn-modeler.js: window.NadzorDmn.
import 'dmn-js/dist/assets/diagram-js.css';
import 'dmn-js/dist/assets/dmn-js-shared.css';
import 'dmn-js/dist/assets/dmn-js-drd.css';
import 'dmn-js/dist/assets/dmn-js-decision-table.css';
import 'dmn-js/dist/assets/dmn-js-decision-table-controls.css';
import 'dmn-js/dist/assets/dmn-js-literal-expression.css';
import 'dmn-js/dist/assets/dmn-js-boxed-expression.css';
import 'dmn-js/dist/assets/dmn-js-boxed-expression-controls.css';
import 'dmn-js/dist/assets/dmn-font/css/dmn-embedded.css';

import DmnModeler from 'dmn-js/lib/Modeler';

/**
 * A dmn-js Modeler in `container` (open a file with `await modeler.importXML(xml)`, get it back
 * with `(await modeler.saveXML({format: true})).xml`). keyboardBind: false turns shortcuts off.
 */
function create(options) {
  const opts = options || {};
  return new DmnModeler({
    container: opts.container,
    common: { keyboard: { bind: opts.keyboardBind !== false } }
  });
}

window.NadzorDmn = { create, DmnModeler };
