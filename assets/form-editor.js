// Entry point of web/static/vendor/nadzor-form-editor/form-editor.js: window.NadzorFormEditor.
import '@bpmn-io/form-js-editor/dist/assets/form-js-editor.css';
import '@bpmn-io/form-js-editor/dist/assets/properties-panel.css';
import '@bpmn-io/form-js/dist/assets/form-js.css';

import { FormEditor } from '@bpmn-io/form-js-editor';

/** A form-js editor in `container`, showing `schema` (a form-js schema object) when given. */
function create(options) {
  const opts = options || {};
  const editor = new FormEditor({ container: opts.container });
  if (opts.schema) {
    editor.importSchema(opts.schema);
  }
  return editor;
}

window.NadzorFormEditor = { create, FormEditor };
