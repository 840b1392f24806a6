/* The public WebSocket API (/v1/ws, docs/websocket.md) as a browser page
 * uses it: one connection, subscriptions that survive reconnects, a local
 * order book checked against every message's prev_seq and CRC32 checksum,
 * and a status the page shows. No framework, no build step.
 *
 * Prices and sizes stay the wire's decimal strings: the book compares them
 * exactly (as decimals, not floats), and the checksum is computed over them.
 * Numbers are made of them only to draw charts.
 */
(function () {
  "use strict";

  var HKT = (window.HKT = window.HKT || {});

  // ---------------------------------------------------------------- CRC32

  var CRC_TABLE = (function () {
    var table = new Uint32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();
  var encoder = new TextEncoder();

  /** CRC32 of a string's UTF-8 bytes, unsigned, as Python's zlib.crc32. */
  HKT.crc32 = function (text) {
    var bytes = encoder.encode(text);
    var crc = 0xffffffff;
    for (var i = 0; i < bytes.length; i++) {
      crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    }
    return (crc ^ 0xffffffff) >>> 0;
  };

  // ------------------------------------------------------- decimal strings

  function splitDecimal(text) {
    var dot = text.indexOf(".");
    var whole = dot < 0 ? text : text.slice(0, dot);
    var frac = dot < 0 ? "" : text.slice(dot + 1);
    whole = whole.replace(/^0+(?=\d)/, "");
    return [whole, frac];
  }

  /** Compare two non-negative decimal strings exactly: -1, 0 or 1. */
  HKT.compareDecimal = function (a, b) {
    var x = splitDecimal(a);
    var y = splitDecimal(b);
    if (x[0].length !== y[0].length) return x[0].length < y[0].length ? -1 : 1;
    if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
    var width = Math.max(x[1].length, y[1].length);
    var fx = x[1].padEnd(width, "0");
    var fy = y[1].padEnd(width, "0");
    return fx === fy ? 0 : fx < fy ? -1 : 1;
  };

  HKT.isZero = function (text) {
    return /^[0.]*$/.test(text);
  };

  /** A decimal string shown with ``decimals`` places and thousands
   * separators, without a round trip through a float: "62990.500000", 2
   * gives "62,990.50". Digits past ``decimals`` are cut (the wire's values
   * sit on the pair's grid, so they are zeros). */
  HKT.formatDecimal = function (text, decimals) {
    if (text === null || text === undefined || text === "") return "–";
    var sign = "";
    if (text[0] === "-" || text[0] === "+") {
      sign = text[0] === "-" ? "-" : "+";
      text = text.slice(1);
    }
    var parts = splitDecimal(text);
    var whole = parts[0] || "0";
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    if (decimals <= 0) return sign + whole;
    return sign + whole + "." + parts[1].padEnd(decimals, "0").slice(0, decimals);
  };

  /** A decimal string with a unit suffix for large values (1.2M), for the
   * volume columns. Display only. */
  // A 24-hour change in percent ("-1.25" -> "-1.25%", "0.40" -> "+0.40%"),
  // coloured up or down; null (no trade yet) shows a dash.
  HKT.showChange = function (el, value) {
    el.textContent = value === null ? "–" : (value[0] === "-" ? "" : "+") + value + "%";
    el.classList.toggle("up", value !== null && value[0] !== "-" && !HKT.isZero(value));
    el.classList.toggle("down", value !== null && value[0] === "-");
  };

  HKT.formatCompact = function (text, decimals) {
    if (text === null || text === undefined) return "–";
    var value = Number(text);
    var units = [
      [1e9, "B"],
      [1e6, "M"],
      [1e3, "K"],
    ];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(value) >= units[i][0] * 10) {
        return (value / units[i][0]).toFixed(2) + units[i][1];
      }
    }
    return HKT.formatDecimal(text, decimals);
  };

  // ------------------------------------------------------------ local book

  /** One book subscription's copy of the server's top ``depth`` levels. */
  function LocalBook(depth) {
    this.depth = depth;
    this.bids = new Map();
    this.asks = new Map();
    this.seq = null;
    this.inSync = false;
  }

  LocalBook.prototype.sorted = function (side) {
    var levels = Array.from((side === "buy" ? this.bids : this.asks).entries());
    var sign = side === "buy" ? -1 : 1;
    levels.sort(function (a, b) {
      return sign * HKT.compareDecimal(a[0], b[0]);
    });
    return levels;
  };

  /** The documented checksum string: top min(depth, 25) levels a side,
   * interleaved bid price, bid size, ask price, ask size, ... */
  LocalBook.prototype.checksum = function () {
    var n = Math.min(this.depth, 25);
    var bids = this.sorted("buy").slice(0, n);
    var asks = this.sorted("sell").slice(0, n);
    var parts = [];
    for (var i = 0; i < Math.max(bids.length, asks.length); i++) {
      if (i < bids.length) parts.push(bids[i][0], bids[i][1]);
      if (i < asks.length) parts.push(asks[i][0], asks[i][1]);
    }
    return HKT.crc32(parts.join(":"));
  };

  /** Apply a book_snapshot or book_delta. Returns "ok", "ignored" (a delta
   * while waiting for a snapshot), "gap" (prev_seq is not the last seq) or
   * "checksum" (the book after the message differs from the server's). */
  LocalBook.prototype.apply = function (msg) {
    var self = this;
    if (msg.type === "book_snapshot") {
      this.bids = new Map(msg.bids);
      this.asks = new Map(msg.asks);
    } else {
      if (!this.inSync) return "ignored";
      if (msg.prev_seq !== this.seq) {
        this.inSync = false;
        return "gap";
      }
      msg.changes.forEach(function (change) {
        var levels = change[0] === "buy" ? self.bids : self.asks;
        if (HKT.isZero(change[2])) levels.delete(change[1]);
        else levels.set(change[1], change[2]);
      });
    }
    this.seq = msg.seq;
    if (this.checksum() !== msg.checksum) {
      this.inSync = false;
      return "checksum";
    }
    this.inSync = true;
    return "ok";
  };

  HKT.LocalBook = LocalBook;

  // ------------------------------------------------------------ the socket

  var HEARTBEAT_SILENCE_MS = 15000; // three missed heartbeats: the link is dead
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 15000;

  function subKey(spec) {
    return [spec.channel, spec.pair, spec.interval || ""].join("|");
  }

  /** One connection to /v1/ws with a set of public subscriptions.
   *
   * ``subscribe(spec, handlers)`` keeps a subscription: it is sent now if the
   * socket is open and again after each reconnect. handlers.onMessage(msg)
   * gets its messages; handlers.onSubscribed() runs after each ack (the
   * moment to fetch from REST what came before). For a book subscription
   * the socket keeps a LocalBook and calls onMessage only when the book is
   * in sync; a gap or a checksum mismatch resubscribes for a new snapshot.
   *
   * ``onStatus(state, detail)``: "connecting", "live", "resyncing",
   * "reconnecting" (detail: ms until the next try). ``stats`` counts what
   * happened, for the page and its tests.
   */
  function MarketSocket(path, onStatus) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    this.url = scheme + window.location.host + path;
    this.onStatus = onStatus || function () {};
    this.subs = new Map();
    this.pending = new Map();
    this.nextId = 1;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.watchdog = null;
    this.stats = { connects: 0, reconnects: 0, gaps: 0, checksumFailures: 0, serverResyncs: 0 };
    this.state = "connecting";
    this.everLive = false;
  }

  MarketSocket.prototype.start = function () {
    this.connect();
    return this;
  };

  MarketSocket.prototype.setStatus = function (state, detail) {
    this.state = state;
    this.onStatus(state, detail, this.stats);
  };

  MarketSocket.prototype.connect = function () {
    var self = this;
    this.setStatus(this.stats.connects ? "reconnecting" : "connecting", 0);
    var ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = function () {
      self.stats.connects += 1;
      if (self.stats.connects > 1) self.stats.reconnects += 1;
      self.attempt = 0;
      self.pending.clear();
      self.subs.forEach(function (sub) {
        self.sendSubscribe(sub);
      });
      self.refreshStatus();
      self.kick();
    };
    ws.onmessage = function (event) {
      self.kick();
      var msg;
      try {
        msg = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      self.dispatch(msg);
    };
    ws.onclose = function () {
      if (self.ws !== ws) return;
      self.ws = null;
      self.scheduleReconnect();
    };
  };

  /** Reconnect after a back-off that doubles from 0.5 s to 15 s, with jitter
   * so that many pages do not come back at the same instant. */
  MarketSocket.prototype.scheduleReconnect = function () {
    var self = this;
    clearTimeout(this.watchdog);
    this.subs.forEach(function (sub) {
      sub.acked = false;
      if (sub.book) sub.book.inSync = false;
    });
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, this.attempt));
    var delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt += 1;
    this.setStatus("reconnecting", delay);
    clearTimeout(this.timer);
    this.timer = setTimeout(function () {
      self.connect();
    }, delay);
  };

  /** A connection that stays silent past three heartbeats is dead even if
   * the browser has not noticed: close it and reconnect. */
  MarketSocket.prototype.kick = function () {
    var self = this;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(function () {
      if (self.ws) self.ws.close();
    }, HEARTBEAT_SILENCE_MS);
  };

  MarketSocket.prototype.send = function (frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return null;
    frame.id = frame.id || "w" + this.nextId++;
    this.ws.send(JSON.stringify(frame));
    return frame.id;
  };

  MarketSocket.prototype.subscribe = function (spec, handlers) {
    var sub = { spec: spec, handlers: handlers || {}, acked: false, book: null };
    if (spec.channel === "book") sub.book = new LocalBook(spec.depth || 100);
    this.subs.set(subKey(spec), sub);
    this.sendSubscribe(sub);
    return sub;
  };

  MarketSocket.prototype.unsubscribe = function (spec) {
    var key = subKey(spec);
    if (!this.subs.has(key)) return;
    this.subs.delete(key);
    var frame = { op: "unsubscribe", channel: spec.channel, pair: spec.pair };
    if (spec.interval) frame.interval = spec.interval;
    this.send(frame);
  };

  MarketSocket.prototype.sendSubscribe = function (sub) {
    var frame = Object.assign({ op: "subscribe" }, sub.spec);
    var id = this.send(frame);
    if (id) this.pending.set(id, sub);
  };

  /** Start a book subscription again for a fresh snapshot: unsubscribe and
   * subscribe on the same connection (the server answers in order, and the
   * book ignores deltas until the new snapshot). */
  MarketSocket.prototype.resubscribe = function (sub) {
    sub.acked = false;
    if (sub.book) sub.book.inSync = false;
    this.setStatus("resyncing");
    var frame = { op: "unsubscribe", channel: sub.spec.channel, pair: sub.spec.pair };
    if (sub.spec.interval) frame.interval = sub.spec.interval;
    this.send(frame);
    this.sendSubscribe(sub);
  };

  MarketSocket.prototype.refreshStatus = function () {
    var allLive = true;
    this.subs.forEach(function (sub) {
      if (!sub.acked || (sub.book && !sub.book.inSync)) allLive = false;
    });
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (allLive) this.everLive = true;
    this.setStatus(allLive ? "live" : this.everLive ? "resyncing" : "connecting");
  };

  MarketSocket.prototype.dispatch = function (msg) {
    if (msg.type === "ack" || msg.type === "error") {
      var sub = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (sub && msg.type === "ack" && msg.op === "subscribe") {
        sub.acked = true;
        if (sub.handlers.onSubscribed) sub.handlers.onSubscribed();
        this.refreshStatus();
      } else if (sub && msg.type === "error" && sub.handlers.onError) {
        sub.handlers.onError(msg.error);
      }
      return;
    }
    if (msg.type === "heartbeat" || msg.type === "pong" || !msg.channel) return;
    var target = this.subs.get(subKey(msg));
    if (!target || !target.acked) return;
    if (msg.type === "resync") {
      // The server restarts the subscription; a book's snapshot follows.
      this.stats.serverResyncs += 1;
      if (target.book) target.book.inSync = false;
      this.setStatus("resyncing");
      if (target.handlers.onResync) target.handlers.onResync(msg);
      return;
    }
    if (target.book) {
      var outcome = target.book.apply(msg);
      if (outcome === "ignored") return;
      if (outcome === "gap" || outcome === "checksum") {
        if (outcome === "gap") this.stats.gaps += 1;
        else this.stats.checksumFailures += 1;
        this.resubscribe(target);
        return;
      }
      if (msg.type === "book_snapshot") this.refreshStatus();
      if (target.handlers.onMessage) target.handlers.onMessage(msg, target.book);
      return;
    }
    if (target.handlers.onMessage) target.handlers.onMessage(msg);
    if (this.state === "resyncing") this.refreshStatus();
  };

  HKT.MarketSocket = MarketSocket;

  // ---------------------------------------------------------- status badge

  var STATUS_TEXT = {
    connecting: "Connecting…",
    live: "Live",
    resyncing: "Resyncing…",
    reconnecting: "Reconnecting…",
  };

  /** Show a MarketSocket's state on a [data-role=status] element; the
   * counters go in data- attributes (the page's tests read them). */
  HKT.statusBadge = function (element) {
    return function (state, detail, stats) {
      if (!element) return;
      var text = STATUS_TEXT[state] || state;
      if (state === "reconnecting" && detail) {
        text = "Reconnecting in " + Math.ceil(detail / 1000) + " s";
      }
      element.textContent = text;
      element.dataset.state = state;
      element.dataset.reconnects = stats.reconnects;
      element.dataset.gaps = stats.gaps;
      element.dataset.checksumFailures = stats.checksumFailures;
      element.dataset.serverResyncs = stats.serverResyncs;
    };
  };

  HKT.getJSON = function (url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  };
})();
