// Entry point of web/static/vendor/nadzor-form-editor/form-editor.js: window.NadzorFormEditor.
//   create({container, schema?}) -> FormEditor; the schema (a form-js schema object, as our
//     bpmn/*/*.form.json files are) is imported at once; an import error goes to the console.
//   open({container, schema}) -> Promise<FormEditor>, resolved once the schema is imported
//     (rejected with form-js's import error), for pages that must wait for it.
//   Get the edited schema back with editor.saveSchema().
import '@bpmn-io/form-js/dist/assets/form-js.css';
import '@bpmn-io/form-js-editor/dist/assets/form-js-editor.css';
import '@bpmn-io/form-js-editor/dist/assets/properties-panel.css';

import { FormEditor } from '@bpmn-io/form-js-editor';

function editorIn(options) {
  const opts = options || {};
  return new FormEditor({ container: opts.container, keyboard: { bind: opts.keyboardBind !== false } });
}

function create(options) {
  const opts = options || {};
  const editor = editorIn(opts);
  if (opts.schema) {
    editor.importSchema(opts.schema).catch((error) => {
      console.error('[NadzorFormEditor] the form could not be opened:', error && error.message);
    });
  }
  return editor;
}

async function open(options) {
  const editor = editorIn(options);
  await editor.importSchema((options && options.schema) || { type: 'default', components: [] });
  return editor;
}

window.NadzorFormEditor = { create, open, FormEditor };
