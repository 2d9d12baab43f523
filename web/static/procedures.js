// The Procedures pages' diagrams (read-only): bpmn-js NavigatedViewer draws each
// .procedure-diagram from the JSON block its data-source names ({xml, marks}); on the diff page
// the marks colour what was added (green), removed (red) and changed (amber). No inline script:
// the data travels in <script type="application/json"> blocks (CSP script-src 'self').
(function () {
  if (typeof BpmnJS === 'undefined') return;
  const MARKERS = { added: 'diff-added', removed: 'diff-removed', changed: 'diff-changed' };
  document.querySelectorAll('.procedure-diagram').forEach(async (el) => {
    const source = document.getElementById(el.dataset.source);
    if (!source) return;
    const data = JSON.parse(source.textContent || '{}');
    if (!data.xml) return;
    const viewer = new BpmnJS({ container: el });
    try {
      await viewer.importXML(data.xml);
    } catch (err) {
      el.dataset.error = 'true';
      el.textContent = el.dataset.errorText || '';
      return;
    }
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    viewer.get('zoomScroll').toggle(false); // the wheel scrolls the page, not the zoom
    canvas.zoom('fit-viewport', 'auto');
    for (const [change, ids] of Object.entries(data.marks || {})) {
      ids.forEach((id) => {
        if (registry.get(id)) canvas.addMarker(id, MARKERS[change]);
      });
    }
    el.dataset.ready = 'true';
  });
})();
