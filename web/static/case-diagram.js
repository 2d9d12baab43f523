// The case page's diagram: bpmn-js draws the model (names already in the user's language, from
// the server) and marks the path taken ("done"), the flows taken ("taken"), the open tasks
// ("current"), breached deadlines ("breached") and how many times an element was passed (a
// badge from 2 on). Read from the #diagram element's data attributes; no inline script.
(async function () {
  const el = document.getElementById('diagram');
  if (!el || typeof BpmnJS === 'undefined') return;
  const data = (name, empty) => JSON.parse(el.dataset[name] || empty);
  const viewer = new BpmnJS({ container: el });
  const xml = await (await fetch(el.dataset.src, { credentials: 'same-origin' })).text();
  await viewer.importXML(xml);
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  const overlays = viewer.get('overlays');
  viewer.get('zoomScroll').toggle(false); // the wheel scrolls the page and the box, not the zoom

  // Fit the width, but never below 11/12 (labels are 12 px: at least 11 px on screen); a wider
  // model scrolls sideways in .diagram-scroll.
  const MIN_SCALE = 11 / 12, MAX_SCALE = 1.1, MARGIN = 20;
  const inner = canvas.viewbox().inner;
  const width = inner.width + 2 * MARGIN, height = inner.height + 2 * MARGIN;
  const room = el.parentElement.clientWidth - 2;
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, room / width));
  el.style.width = Math.ceil(width * scale) + 'px';
  el.style.height = Math.ceil(height * scale) + 'px';
  canvas.resized();
  canvas.viewbox({ x: inner.x - MARGIN, y: inner.y - MARGIN, width: width, height: height });
  el.dataset.scale = String(canvas.zoom());

  const mark = (id, marker) => { if (registry.get(id)) canvas.addMarker(id, marker); };
  // A task's type icon sits in its top-left corner: move a label that reaches it down, as far as
  // the box allows (a label is centred, so only long ones reach the icon).
  const ICON = 22;
  registry.filter((e) => /Task$|^bpmn:CallActivity$|^bpmn:SubProcess$/.test(e.type)).forEach((e) => {
    canvas.addMarker(e.id, 'nz-task');
    const text = registry.getGraphics(e).querySelector('.djs-visual > text');
    if (!text) return;
    const box = text.getBBox();
    if (box.y >= ICON || box.x >= ICON) return;
    const room = e.height - 3 - (box.y + box.height);
    const shift = Math.min(ICON - box.y, Math.max(room, 0));
    if (shift > 0) text.setAttribute('transform', `translate(0 ${shift.toFixed(1)})`);
  });
  data('done', '[]').forEach((id) => mark(id, 'done'));
  Object.keys(data('flows', '{}')).forEach((id) => mark(id, 'taken'));
  data('current', '[]').forEach((id) => mark(id, 'current'));
  data('breached', '[]').forEach((id) => mark(id, 'breached'));
  const counts = data('counts', '{}');
  for (const [id, times] of Object.entries(counts)) {
    const shape = registry.get(id);
    if (times < 2 || !shape || /Gateway$/.test(shape.type)) continue; // a gateway repeats its task
    const badge = document.createElement('span');
    badge.className = 'diagram-count';
    badge.dataset.element = id;
    badge.title = el.dataset.countTitle + ': ' + times;
    badge.textContent = '×' + times;
    overlays.add(id, 'count', { position: { top: -10, right: 8 }, html: badge });
  }
  // Where the case waits is what the reader looks for: scroll it into view if it is off-screen.
  const scroller = el.parentElement;
  const open = data('current', '[]').map((id) => registry.get(id)).find(Boolean);
  if (open) {
    const left = (open.x - (inner.x - MARGIN)) * scale;
    if (left + open.width * scale > scroller.clientWidth) {
      scroller.scrollLeft = Math.max(0, left - scroller.clientWidth / 3);
    }
  }
  el.dataset.ready = 'true';
})();
