// Live pages: when the shop's invoices change (server-sent events from /live), the part of the
// page marked #live is fetched again from its address (data-src) and swapped in — no reload. Once
// now and once shortly after, because a payment can reach this stream a moment before invoicing
// has recorded it. A page about one invoice (data-invoice) listens to that invoice only. While a
// form of the page holds changes not yet saved, it is not swapped (the words would be lost): a
// note asks to save or reload. A page shown after a refused form has no data-src: it stays.
(() => {
  const part = document.getElementById("live");
  if (!part || !part.dataset.src || !window.EventSource) return;
  const only = part.dataset.invoice;
  const note = document.getElementById("live-note");
  let later;
  const changed = (field) => {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") return [...field.options].some((o) => o.selected !== o.defaultSelected);
    return field.type !== "hidden" && field.value !== field.defaultValue;
  };
  const unsaved = () => [...document.querySelectorAll("#live form [name]")].some(changed);
  const refresh = () => {
    if (unsaved()) {
      if (note) note.hidden = false;
      return;
    }
    htmx.ajax("GET", part.dataset.src, { target: "#live", select: "#live", swap: "outerHTML" });
  };
  new EventSource("/live").addEventListener("invoice", (e) => {
    if (only && JSON.parse(e.data).invoice_id !== only) return;
    refresh();
    clearTimeout(later);
    later = setTimeout(refresh, 1500);
  });
})();
