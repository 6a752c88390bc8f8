// Live pages: when the shop's invoices change (server-sent events from /live), the part of the
// page marked #live is fetched again and swapped in — no reload. Once now and once shortly after,
// because a payment can reach this stream a moment before invoicing has recorded it.
(() => {
  const part = document.getElementById("live");
  if (!part || !window.EventSource) return;
  let later;
  const refresh = () =>
    htmx.ajax("GET", location.pathname + location.search, { target: "#live", select: "#live", swap: "outerHTML" });
  new EventSource("/live").addEventListener("invoice", () => {
    refresh();
    clearTimeout(later);
    later = setTimeout(refresh, 1500);
  });
})();
