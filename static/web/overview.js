/* The markets overview (templates/web/markets.html): one ticker
 * subscription per pair on one public WebSocket connection. */
(function () {
  "use strict";

  var HKT = window.HKT;
  var table = document.querySelector("[data-role=markets]");
  if (!table) return;
  var socket = new HKT.MarketSocket(
    table.dataset.wsPath,
    HKT.statusBadge(document.querySelector("[data-role=status]"))
  );

  function show(row, t) {
    var priceDp = Number(row.dataset.priceDecimals);
    row.querySelectorAll("[data-field]").forEach(function (el) {
      var field = el.dataset.field;
      var value = t[field];
      if (field === "change_percent") {
        HKT.showChange(el, value);
      } else if (field === "quote_volume") {
        el.textContent = HKT.formatCompact(value, priceDp);
      } else {
        el.textContent = HKT.formatDecimal(value, priceDp);
      }
    });
    row.dataset.seq = t.seq;
  }

  table.querySelectorAll("tr[data-pair]").forEach(function (row) {
    socket.subscribe(
      { channel: "ticker", pair: row.dataset.pair },
      { onMessage: function (t) { show(row, t); } }
    );
  });
  socket.start();
  HKT.overview = { socket: socket };
})();
