// Live updates for the console: the server sends `change` over server-sent events
// (/live) when the operator's regions (or the open incident) changed; the page then
// fetches its own fragment again and swaps it in. The fragment is HTML the server
// rendered and escaped; no data is turned into markup here. Without JavaScript every
// page still works (reload to refresh).
(() => {
  "use strict";
  const live = document.querySelector("[data-live]");
  if (!live || !window.EventSource) return;
  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      // ticked split boxes survive the swap
      const ticked = new Set(
        Array.from(live.querySelectorAll("input[type=checkbox]:checked"), (b) => b.value));
      const open = new Set(
        Array.from(live.querySelectorAll("details[open]"), (d) => d.closest("[data-mention]")?.dataset.mention));
      const resp = await fetch(live.dataset.fragment, { credentials: "same-origin" });
      if (resp.status === 401) { window.location.reload(); return; }
      if (resp.ok) {
        live.innerHTML = await resp.text();
        for (const b of live.querySelectorAll("input[type=checkbox]")) b.checked = ticked.has(b.value);
        for (const d of live.querySelectorAll("details")) {
          if (open.has(d.closest("[data-mention]")?.dataset.mention)) d.open = true;
        }
        document.body.dataset.refreshed = String(Date.now());
      }
    } catch (e) {
      // the next change tries again
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  const source = new EventSource(live.dataset.live);
  source.addEventListener("change", refresh);
})();
