// The Procedures pages' diagrams (read-only): bpmn-js NavigatedViewer draws each
// .procedure-diagram from the JSON block its data-source names ({xml, marks}); on the diff page
// the marks colour what was added (green), removed (red) and changed (amber), and the two
// diagrams scroll together. No inline script: the data travels in
// <script type="application/json"> blocks (CSP script-src 'self').
(function () {
  if (typeof BpmnJS === 'undefined') return;
  const MARKERS = { added: 'diff-added', removed: 'diff-removed', changed: 'diff-changed' };
  // Fit the box's width, but never below MIN_SCALE (labels stay readable); a wider model
  // scrolls sideways in its .diagram-scroll.
  const MIN_SCALE = 0.6, MAX_SCALE = 1, MARGIN = 20;

  async function draw(el) {
    const source = document.getElementById(el.dataset.source);
    if (!source) return;
    const data = JSON.parse(source.textContent || '{}');
    if (!data.xml) return;
    const viewer = new BpmnJS({ container: el });
    try {
      await viewer.importXML(data.xml);
    } catch (err) {
      el.dataset.error = 'true';
      return;
    }
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    viewer.get('zoomScroll').toggle(false); // the wheel scrolls the page and the box
    const inner = canvas.viewbox().inner;
    const width = inner.width + 2 * MARGIN, height = inner.height + 2 * MARGIN;
    const room = el.parentElement.clientWidth - 2;
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, room / width));
    el.style.width = Math.ceil(width * scale) + 'px';
    el.style.height = Math.ceil(height * scale) + 'px';
    canvas.resized();
    canvas.viewbox({ x: inner.x - MARGIN, y: inner.y - MARGIN, width: width, height: height });
    const marked = [];
    for (const [change, ids] of Object.entries(data.marks || {})) {
      ids.forEach((id) => {
        const shape = registry.get(id);
        if (!shape) return;
        canvas.addMarker(id, MARKERS[change]);
        if (shape.x !== undefined) marked.push(shape);
      });
    }
    // the first change in view: what the reader came for
    const first = marked.sort((a, b) => a.x - b.x)[0];
    const scroller = el.parentElement;
    if (first) {
      const left = (first.x - (inner.x - MARGIN)) * scale;
      if (left + first.width * scale > scroller.clientWidth) {
        scroller.scrollLeft = Math.max(0, left - scroller.clientWidth / 3);
      }
    }
    el.dataset.ready = 'true';
  }

  const diagrams = Array.from(document.querySelectorAll('.procedure-diagram'));
  diagrams.forEach(draw);
  // the diff's two sides scroll together, so the same place of both versions stays in view
  const scrollers = diagrams.map((d) => d.parentElement).filter((s) => s.closest('.diff-sides'));
  let syncing = false;
  scrollers.forEach((s) => s.addEventListener('scroll', () => {
    if (syncing) return;
    syncing = true;
    scrollers.forEach((o) => { if (o !== s) { o.scrollLeft = s.scrollLeft; o.scrollTop = s.scrollTop; } });
    requestAnimationFrame(() => { syncing = false; });
  }));
})();
