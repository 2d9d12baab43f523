// A draft's form (form-js editor, window.NadzorFormEditor) or decision table (dmn-js,
// window.NadzorDmn), saved back into the draft with the draft's revision (a save against a
// moved revision is refused with who saved it meanwhile). Data from #editor-config.
(function () {
  'use strict';
  const configEl = document.getElementById('editor-config');
  if (!configEl) return;
  const config = JSON.parse(configEl.textContent);
  const W = config.words;
  const $ = (id) => document.getElementById(id);
  const state = { revision: config.revision, stopped: false, dirty: false, timer: null };
  const errorBox = $('editor-error');
  const saveState = $('save-state');
  let editor = null;

  function showError(text) { errorBox.textContent = text; errorBox.hidden = !text; }
  async function call(method, url, body) {
    const response = await fetch(url, {
      method: method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': config.csrf, Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    let data;
    try { data = await response.json(); } catch (e) { data = { ok: false, message: W.failed }; }
    if (response.redirected && /\/login/.test(response.url)) data = { ok: false, message: W.signed_out };
    return { status: response.status, data: data };
  }

  async function content() {
    if (config.kind === 'form') return JSON.stringify(editor.saveSchema(), null, 2);
    const { xml } = await editor.saveXML({ format: true });
    return xml;
  }

  async function save() {
    if (state.stopped || !editor) return;
    saveState.textContent = W.saving;
    const answer = await call('PUT', config.urls.files, { name: config.name, content: await content(), revision: state.revision });
    if (answer.status === 200 && answer.data.ok) {
      state.revision = answer.data.revision;
      state.dirty = false;
      saveState.textContent = W.saved + ' · ' + answer.data.saved_at;
      showError('');
      return;
    }
    if (answer.status === 409) state.stopped = true;
    saveState.textContent = W.save_failed;
    showError(answer.data.message || W.failed);
  }
  $('btn-save').addEventListener('click', () => { clearTimeout(state.timer); save(); });
  // autosave after a pause, as in the diagram editor
  function changed() {
    if (!document.body.dataset.editorReady) return;
    state.dirty = true;
    saveState.textContent = W.unsaved;
    clearTimeout(state.timer);
    state.timer = setTimeout(save, 2500);
  }
  window.addEventListener('beforeunload', (event) => { if (state.dirty) { event.preventDefault(); event.returnValue = ''; } });

  (async function load() {
    const answer = await call('GET', config.urls.files);
    if (answer.status !== 200) { showError(answer.data.message || W.load_failed); return; }
    state.revision = answer.data.revision;
    const text = answer.data.files[config.name];
    try {
      if (config.kind === 'form') {
        if (!window.NadzorFormEditor) throw new Error('form editor missing');
        editor = await window.NadzorFormEditor.open({ container: $('file-editor'), schema: JSON.parse(text) });
        editor.on('changed', changed);
      } else {
        if (!window.NadzorDmn) throw new Error('DMN editor missing');
        editor = window.NadzorDmn.create({ container: $('file-editor') });
        await editor.importXML(text);
        // straight to the decision table (the DRD is one box per decision)
        const table = editor.getViews().find((v) => v.type === 'decisionTable');
        if (table) await editor.open(table);
        const listen = () => {
          const viewer = editor.getActiveViewer();
          if (viewer) viewer.on('commandStack.changed', changed);
        };
        listen();
        editor.on('views.changed', listen);
      }
    } catch (e) {
      showError(W.load_failed + ': ' + (e && e.message ? e.message : ''));
      return;
    }
    window.nadzorFileEditor = editor;
    document.body.dataset.editorReady = '1';
    saveState.textContent = W.saved + ' · ' + answer.data.updated_at;
  })();
})();
