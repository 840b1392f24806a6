/* The market page (templates/web/market.html): ticker, order book, depth
 * chart, recent trades and candles of one pair, from the public REST API
 * and the public WebSocket only. Data comes in through data- attributes;
 * nothing inline (the page's Content-Security-Policy forbids it). */
(function () {
  "use strict";

  var HKT = window.HKT;
  var root = document.querySelector("[data-role=market]");
  if (!root) return;

  var PAIR = root.dataset.pair;
  var PRICE_DP = Number(root.dataset.priceDecimals);
  var SIZE_DP = Number(root.dataset.sizeDecimals);
  var DEPTH = Number(root.dataset.depth);
  var BOOK_ROWS = 15; // levels a side in the table; the depth chart uses all
  var TRADE_ROWS = 40;
  var INTERVAL_S = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400 };

  function $(role) {
    return root.querySelector("[data-role=" + role + "]");
  }
  function price(text) {
    return HKT.formatDecimal(text, PRICE_DP);
  }
  function size(text) {
    return HKT.formatDecimal(text, SIZE_DP);
  }
  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    td.className = className || "num";
    return td;
  }

  var socket = new HKT.MarketSocket(root.dataset.wsPath, HKT.statusBadge($("status")));

  // ---------------------------------------------------------------- ticker

  function showTicker(t) {
    root.querySelectorAll(".ticker-bar [data-field]").forEach(function (el) {
      var field = el.dataset.field;
      var value = t[field];
      if (field === "change_percent") {
        HKT.showChange(el, value);
      } else if (field === "base_volume") {
        el.textContent = HKT.formatCompact(value, SIZE_DP);
      } else if (field === "quote_volume") {
        el.textContent = HKT.formatCompact(value, PRICE_DP);
      } else {
        el.textContent = price(value);
      }
    });
    if (t.last_price) document.title = price(t.last_price) + " · " + PAIR + " · Exchange";
  }

  // ------------------------------------------------------------------ book

  var depthChart = new HKT.DepthChart($("depth"), { priceDecimals: PRICE_DP });

  function bookRows(levels, side) {
    var total = 0;
    var rows = levels.map(function (level) {
      total += Number(level[1]);
      return [level[0], level[1], total];
    });
    var max = rows.length ? rows[rows.length - 1][2] : 1;
    var fragment = document.createDocumentFragment();
    (side === "sell" ? rows.slice().reverse() : rows).forEach(function (row) {
      var tr = document.createElement("tr");
      tr.className = side === "buy" ? "bid" : "ask";
      tr.appendChild(cell(price(row[0]), "num price"));
      tr.appendChild(cell(size(row[1])));
      tr.appendChild(cell(row[2].toFixed(Math.min(SIZE_DP, 4)), "num hide-sm"));
      // The row's depth bar: a CSS custom property, set through CSSOM.
      tr.style.setProperty("--fill", ((100 * row[2]) / max).toFixed(1) + "%");
      fragment.appendChild(tr);
    });
    return fragment;
  }

  function showBook(msg, book) {
    var bids = book.sorted("buy");
    var asks = book.sorted("sell");
    $("bids").replaceChildren(bookRows(bids.slice(0, BOOK_ROWS), "buy"));
    $("asks").replaceChildren(bookRows(asks.slice(0, BOOK_ROWS), "sell"));
    var spread = $("spread");
    if (bids.length && asks.length) {
      var best = Number(bids[0][0]);
      var gap = Number(asks[0][0]) - best;
      var pct = best > 0 ? ((100 * gap) / best).toFixed(3) : "0";
      spread.textContent = "Spread " + gap.toFixed(PRICE_DP) + " (" + pct + "%)";
    } else {
      spread.textContent = "Spread –";
    }
    $("book-seq").textContent = "seq " + book.seq;
    root.dataset.bookSeq = book.seq;
    depthChart.draw(bids, asks);
  }

  // ---------------------------------------------------------------- trades

  var trades = []; // newest first, unique by trade_seq

  function addTrades(list) {
    var seen = new Set(trades.map(function (t) { return t.trade_seq; }));
    list.forEach(function (t) {
      if (!seen.has(t.trade_seq)) {
        trades.push(t);
        seen.add(t.trade_seq);
      }
    });
    trades.sort(function (a, b) { return b.trade_seq - a.trade_seq; });
    trades = trades.slice(0, TRADE_ROWS);
    var fragment = document.createDocumentFragment();
    trades.forEach(function (t) {
      var tr = document.createElement("tr");
      tr.className = t.taker_side === "buy" ? "bid" : "ask";
      tr.dataset.tradeSeq = t.trade_seq;
      tr.appendChild(cell(price(t.price), "num price"));
      tr.appendChild(cell(size(t.size)));
      tr.appendChild(cell(new Date(t.ts).toLocaleTimeString([], { hour12: false }), "num muted"));
      fragment.appendChild(tr);
    });
    $("trades").replaceChildren(fragment);
  }

  /** REST names the trade sequence "seq"; the stream, "trade_seq". */
  function fromRest(t) {
    return { trade_seq: t.seq, price: t.price, size: t.size, taker_side: t.taker_side, ts: t.ts };
  }

  function loadTrades() {
    HKT.getJSON("/v1/trades/" + PAIR + "?limit=" + TRADE_ROWS).then(function (body) {
      addTrades(body.trades.map(fromRest));
    });
  }

  // --------------------------------------------------------------- candles

  var chart = null;
  var series = null;
  var interval = "1m";
  var candles = new Map(); // start (s) -> bar
  var candlesReady = false;

  function makeChart() {
    var LWC = window.LightweightCharts;
    var element = $("candles");
    chart = LWC.createChart(element, {
      autoSize: true,
      layout: {
        background: { type: "solid", color: "transparent" },
        textColor: "#8b98a9",
        fontFamily: "system-ui, sans-serif",
        attributionLogo: false, // attribution is in the page's footer
      },
      grid: { vertLines: { color: "#1c2533" }, horzLines: { color: "#1c2533" } },
      rightPriceScale: { borderColor: "#263041" },
      timeScale: { borderColor: "#263041", timeVisible: true, secondsVisible: false },
      crosshair: { mode: LWC.CrosshairMode.Normal },
      localization: { priceFormatter: function (p) { return p.toFixed(PRICE_DP); } },
    });
    series = chart.addSeries(LWC.CandlestickSeries, {
      upColor: "#16c784",
      downColor: "#ea3943",
      borderVisible: false,
      wickUpColor: "#16c784",
      wickDownColor: "#ea3943",
      priceFormat: { type: "price", precision: PRICE_DP, minMove: Math.pow(10, -PRICE_DP) },
    });
  }

  function bar(c) {
    return {
      time: Math.floor(c.start_ts / 1000),
      open: Number(c.open),
      high: Number(c.high),
      low: Number(c.low),
      close: Number(c.close),
    };
  }

  function redrawCandles() {
    var bars = Array.from(candles.values()).sort(function (a, b) { return a.time - b.time; });
    series.setData(bars);
    root.dataset.candles = bars.length;
  }

  /** A candle from the stream: keep by start, replace, redraw. */
  function onCandle(c) {
    if (c.interval !== interval) return;
    var b = bar(c);
    var last = 0;
    candles.forEach(function (_, t) { if (t > last) last = t; });
    candles.set(b.time, b);
    if (!candlesReady) return;
    if (b.time >= last) series.update(b);
    else redrawCandles();
    root.dataset.candles = candles.size;
  }

  /** The candles before the stream's first two come from REST. */
  function loadCandles() {
    var wanted = interval;
    candlesReady = false;
    HKT.getJSON("/v1/candles/" + PAIR + "?interval=" + wanted + "&limit=300").then(function (body) {
      if (wanted !== interval) return;
      body.candles.forEach(function (c) {
        var b = bar(c);
        if (!candles.has(b.time)) candles.set(b.time, b);
      });
      candlesReady = true;
      redrawCandles();
      // The last 90 bars (fewer leave room on the left): never fat bars.
      var n = candles.size;
      chart.timeScale().setVisibleLogicalRange({ from: n - 90, to: n + 2 });
    });
  }

  function subscribeCandles() {
    socket.subscribe(
      { channel: "candles", pair: PAIR, interval: interval },
      { onSubscribed: loadCandles, onMessage: onCandle, onResync: loadCandles }
    );
  }

  function chooseInterval(next) {
    if (next === interval || !INTERVAL_S[next]) return;
    socket.unsubscribe({ channel: "candles", pair: PAIR, interval: interval });
    interval = next;
    candles = new Map();
    series.setData([]);
    root.dataset.interval = next;
    root.querySelectorAll("button.interval").forEach(function (b) {
      var on = b.dataset.interval === next;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    subscribeCandles();
  }

  root.querySelectorAll("button.interval").forEach(function (button) {
    button.addEventListener("click", function () {
      chooseInterval(button.dataset.interval);
    });
  });

  // ----------------------------------------------------------------- start

  makeChart();
  socket.subscribe({ channel: "ticker", pair: PAIR }, { onMessage: showTicker });
  socket.subscribe({ channel: "book", pair: PAIR, depth: DEPTH }, { onMessage: showBook });
  socket.subscribe(
    { channel: "trades", pair: PAIR },
    {
      onSubscribed: loadTrades,
      onResync: loadTrades,
      onMessage: function (t) { addTrades([t]); },
    }
  );
  subscribeCandles();
  socket.start();
  window.addEventListener("resize", function () { depthChart.resize(); });

  HKT.market = { socket: socket, chart: chart, chooseInterval: chooseInterval };
})();
