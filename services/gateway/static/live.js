// Live pages: when the shop's invoices change (server-sent events from /live), the part of the
// page marked #live is fetched again and swapped in — no reload. Once now and once shortly after,
// because a payment can reach this stream a moment before invoicing has recorded it. A page about
// one invoice (data-invoice) listens to that invoice only; while someone is typing into a form of
// the page it is not swapped (their words would be lost): a note asks them to save or reload.
(() => {
  const part = document.getElementById("live");
  if (!part || !window.EventSource) return;
  const only = part.dataset.invoice;
  const note = document.getElementById("live-note");
  let later;
  let typing = false;
  document.addEventListener("input", (e) => {
    if (e.target.closest("#live form")) typing = true;
  });
  document.addEventListener("submit", () => {
    typing = false;
  });
  const refresh = () => {
    if (typing) {
      if (note) note.hidden = false;
      return;
    }
    htmx.ajax("GET", location.pathname + location.search, { target: "#live", select: "#live", swap: "outerHTML" });
  };
  new EventSource("/live").addEventListener("invoice", (e) => {
    if (only && JSON.parse(e.data).invoice_id !== only) return;
    refresh();
    clearTimeout(later);
    later = setTimeout(refresh, 1500);
  });
})();
