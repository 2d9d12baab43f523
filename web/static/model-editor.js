// The draft editor (web/templates/drafts/editor.html): the bpmn-js modeler from
// vendor/nadzor-modeler (window.NadzorModeler.create) with its properties panel and linting;
// Save (and autosave after a pause), Check (problems marked on their elements and listed in
// words), Try (tasks, offices, timers in Almaty time, the path highlighted) and Publish. All data
// comes from the #editor-config JSON block; every write sends the CSRF token in X-CSRFToken.
(function () {
  'use strict';
  const configEl = document.getElementById('editor-config');
  if (!configEl) return;
  const config = JSON.parse(configEl.textContent);
  const W = config.words;
  const $ = (id) => document.getElementById(id);
  const state = { revision: config.revision, dirty: false, saving: null, timer: null, stopped: false };
  const errorBox = $('editor-error');
  const saveState = $('save-state');

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
    if (text) errorBox.focus && errorBox.setAttribute('tabindex', '-1');
  }
  function say(el, text) { el.textContent = text; }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function call(method, url, body) {
    const response = await fetch(url, {
      method: method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': config.csrf, Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = { ok: false, message: W.failed }; }
    if (response.redirected && /\/login/.test(response.url)) data = { ok: false, message: W.signed_out };
    return { status: response.status, data: data };
  }

  if (!window.NadzorModeler) { showError(W.load_failed); return; }
  const modeler = window.NadzorModeler.create({
    container: $('canvas'),
    propertiesParent: $('properties'),
    locale: config.locale,
    formFiles: config.form_files,
    procedures: config.procedures
  });
  window.nadzorEditor = { modeler: modeler, state: state }; // for the browser tests
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const registry = modeler.get('elementRegistry');
  const marked = [];

  const markProblems = window.NadzorModeler.markProblems;
  function clearMarks() {
    marked.forEach(([id, cls]) => { if (registry.get(id)) canvas.removeMarker(id, cls); });
    marked.length = 0;
    overlays.remove({ type: 'nz-problem' });
    if (markProblems) markProblems(modeler, []);
  }
  function mark(id, cls) {
    if (!id || !registry.get(id)) return false;
    canvas.addMarker(id, cls);
    marked.push([id, cls]);
    return true;
  }

  // -- saving ------------------------------------------------------------------------------
  async function save() {
    if (state.stopped) return false;
    if (state.saving) return state.saving;
    state.saving = (async () => {
      say(saveState, W.saving);
      try {
        const { xml } = await modeler.saveXML({ format: true });
        const wasDirtyAt = state.changes;
        const answer = await call('PUT', config.urls.files, { name: config.main, content: xml, revision: state.revision });
        if (answer.status === 200 && answer.data.ok) {
          state.revision = answer.data.revision;
          if (state.changes === wasDirtyAt) state.dirty = false;
          say(saveState, W.saved + ' · ' + answer.data.saved_at);
          showError('');
          return true;
        }
        if (answer.status === 409) state.stopped = true; // someone else saved: reload first
        say(saveState, W.save_failed);
        showError(answer.data.message || W.failed);
        return false;
      } catch (e) {
        say(saveState, W.save_failed);
        showError(W.failed);
        return false;
      } finally {
        state.saving = null;
      }
    })();
    return state.saving;
  }
  async function saveIfDirty() { return state.dirty ? save() : !state.stopped; }

  state.changes = 0;
  modeler.on('commandStack.changed', () => {
    state.dirty = true;
    state.changes += 1;
    say(saveState, W.unsaved);
    clearTimeout(state.timer);
    state.timer = setTimeout(save, 2500); // autosave after a pause
  });
  $('btn-save').addEventListener('click', () => { clearTimeout(state.timer); state.dirty = true; save(); });
  window.addEventListener('beforeunload', (event) => { if (state.dirty) { event.preventDefault(); event.returnValue = ''; } });

  // -- problems ----------------------------------------------------------------------------
  function showProblems(list, problems) {
    list.replaceChildren();
    problems.forEach((p) => {
      const item = el('li', { 'data-element': p.element_id || '' });
      if (p.element_id && registry.get(p.element_id)) {
        const go = el('button', { type: 'button', class: 'linkish' }, p.text);
        go.addEventListener('click', () => {
          const shape = registry.get(p.element_id);
          modeler.get('selection').select(shape);
          canvas.scrollToElement && canvas.scrollToElement(shape);
        });
        item.appendChild(go);
      } else {
        item.textContent = p.text;
      }
      list.appendChild(item);
      // without the bundle's markProblems: our own outline and badge on the element
      if (!markProblems && mark(p.element_id, 'nz-problem')) {
        const badge = el('div', { class: 'nz-problem-badge', 'data-element': p.element_id, title: p.message || '' }, '!');
        overlays.add(p.element_id, 'nz-problem', { position: { top: -12, right: 12 }, html: badge });
      }
    });
    // the bundle's marks: a red outline and the engine's message beside the element
    if (markProblems) markProblems(modeler, problems.map((p) => Object.assign({}, p, { message: p.text || p.message })));
  }

  async function check() {
    const panel = $('check-panel');
    panel.hidden = false;
    say($('check-summary'), W.checking);
    if (!(await saveIfDirty())) { say($('check-summary'), ''); return; }
    clearMarks();
    const answer = await call('POST', config.urls.check, {});
    const problems = (answer.data && answer.data.problems) || [];
    say($('check-summary'), answer.status !== 200 ? (answer.data.message || W.failed)
      : (problems.length ? W.problems + ': ' + problems.length : W.checks));
    $('check-summary').className = problems.length ? 'breached' : 'ok-text';
    showProblems($('check-problems'), problems);
  }
  $('btn-check').addEventListener('click', check);

  // -- try ---------------------------------------------------------------------------------
  function table(headers, rows) {
    const t = el('table', { class: 'try-table' });
    const head = el('tr');
    headers.forEach((h) => head.appendChild(el('th', {}, h)));
    t.appendChild(head);
    rows.forEach((r) => {
      const tr = el('tr');
      r.forEach((c) => tr.appendChild(el('td', {}, c)));
      t.appendChild(tr);
    });
    return t;
  }
  $('btn-try-open').addEventListener('click', () => { $('try-panel').hidden = false; $('try-now').focus(); });
  $('try-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const out = $('try-result');
    let data;
    try {
      data = JSON.parse($('try-data').value || '{}');
      if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error('not an object');
    } catch (e) {
      out.replaceChildren(el('p', { class: 'breached', id: 'try-error' }, W.data_not_json));
      return;
    }
    out.replaceChildren(el('p', {}, W.trying));
    if (!(await saveIfDirty())) { out.replaceChildren(); return; }
    clearMarks();
    const answer = await call('POST', config.urls.try, { now: $('try-now').value, data: data });
    const r = answer.data || {};
    out.replaceChildren();
    if (!r.ok) {
      out.appendChild(el('p', { class: 'breached', id: 'try-error' }, r.message || r.error || W.failed));
      if (r.fields && typeof r.fields === 'object') {
        const fields = el('ul', { id: 'try-fields' });
        Object.entries(r.fields).forEach(([key, text]) => fields.appendChild(el('li', {}, key + ': ' + text)));
        out.appendChild(fields);
      }
      if (r.element_id) showProblems(el('ul'), [{ element_id: r.element_id, text: r.message, message: r.message }]);
      return;
    }
    out.appendChild(el('p', { id: 'try-status' }, W.status + ': ' + (W['status_' + r.status] || r.status)));
    out.appendChild(el('h3', {}, W.tasks));
    out.appendChild(r.tasks.length ? table([W.tasks, W.lane, W.office],
      r.tasks.map((t) => [t.title || t.name, t.lane || '', t.office_name ? t.office_name + ' (' + t.office_code + ')' : (t.office_code || '')]))
      : el('p', {}, W.none));
    out.lastChild.id = 'try-tasks';
    out.appendChild(el('h3', {}, W.timers));
    out.appendChild(r.timers.length ? table([W.timers, W.due],
      r.timers.map((t) => [t.name ? t.name + ' (' + t.element + ')' : t.element, t.due_label || t.due_at]))
      : el('p', {}, W.none));
    out.lastChild.id = 'try-timers';
    out.appendChild(el('h3', {}, W.path));
    const path = el('ol', { id: 'try-path' });
    (r.path || []).forEach((p) => path.appendChild(el('li', { 'data-element': p.element }, p.name || p.element)));
    out.appendChild(path);
    (r.path || []).forEach((p) => mark(p.element, 'nz-path'));
    (r.tasks || []).forEach((t) => mark(t.name, 'nz-waiting'));
  });

  // -- publish -----------------------------------------------------------------------------
  $('btn-publish-open').addEventListener('click', () => {
    $('publish-panel').hidden = false;
    const note = $('publish-note');
    if (note) note.focus();
  });
  const publishForm = $('publish-form');
  if (publishForm) {
    publishForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const out = $('publish-result');
      out.replaceChildren(el('p', {}, W.publishing));
      if (!(await saveIfDirty())) { out.replaceChildren(); return; }
      clearMarks();
      const answer = await call('POST', config.urls.publish, {
        note: $('publish-note').value, legal_basis: $('publish-basis').value, revision: state.revision
      });
      const r = answer.data || {};
      out.replaceChildren();
      if (answer.status === 200 && r.ok) {
        const text = (r.created ? W.published : W.unchanged).replace('{version}', r.version);
        const p = el('p', { class: 'ok-text', id: 'publish-ok' }, text + ' ');
        p.appendChild(el('a', { href: r.url, id: 'publish-link' }, W.open_version));
        out.appendChild(p);
        state.stopped = true; // the draft is gone: it lives on as the version
        state.dirty = false;
        return;
      }
      out.appendChild(el('p', { class: 'breached', id: 'publish-error' }, r.message || W.failed));
      if (r.problems) {
        const list = el('ul', { id: 'publish-problems' });
        out.appendChild(list);
        showProblems(list, r.problems);
      }
    });
  }

  // -- load --------------------------------------------------------------------------------
  (async function load() {
    const answer = await call('GET', config.urls.files);
    if (answer.status !== 200) { showError(answer.data.message || W.load_failed); return; }
    state.revision = answer.data.revision;
    try {
      await modeler.importXML(answer.data.files[config.main]);
      canvas.zoom('fit-viewport');
      // the palette floats over the canvas's left edge: widen the view so the start event shows
      const box = canvas.viewbox();
      const room = 80 / box.scale;
      canvas.viewbox({ x: box.x - room, y: box.y, width: box.width + room, height: box.height });
    } catch (e) {
      showError(W.load_failed + ': ' + (e && e.message ? e.message : ''));
      return;
    }
    document.body.dataset.editorReady = '1';
    say(saveState, W.saved + ' · ' + answer.data.updated_at);
  })();
})();
