// The case page's diagram: bpmn-js draws the model and marks the path taken ("done") and the
// open tasks ("current"). Read from the #diagram element's data attributes; no inline script.
(async function () {
  const el = document.getElementById('diagram');
  if (!el || typeof BpmnJS === 'undefined') return;
  const viewer = new BpmnJS({ container: el });
  const xml = await (await fetch(el.dataset.src, { credentials: 'same-origin' })).text();
  await viewer.importXML(xml);
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  canvas.zoom('fit-viewport');
  for (const id of JSON.parse(el.dataset.path)) if (registry.get(id)) canvas.addMarker(id, 'done');
  for (const id of JSON.parse(el.dataset.current)) if (registry.get(id)) canvas.addMarker(id, 'current');
  el.dataset.ready = 'true';
})();
