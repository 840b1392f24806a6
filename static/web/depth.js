/* A depth chart on a plain <canvas>: cumulative size of the bids (left,
 * green) and asks (right, red) around the mid price, as steps. Display only:
 * the numbers come from the page's checked local book. */
(function () {
  "use strict";

  var HKT = (window.HKT = window.HKT || {});

  var COLORS = {
    bid: "#16c784",
    bidFill: "rgba(22, 199, 132, 0.18)",
    ask: "#ea3943",
    askFill: "rgba(234, 57, 67, 0.18)",
    axis: "#8b98a9",
    grid: "#1c2533",
    mid: "#56627a",
  };

  function DepthChart(canvas, options) {
    this.canvas = canvas;
    this.priceDecimals = (options && options.priceDecimals) || 2;
    this.bids = [];
    this.asks = [];
    this.resize();
  }

  /** Match the canvas's backing store to its CSS size and the screen's
   * pixel ratio, so lines stay sharp on a phone. */
  DepthChart.prototype.resize = function () {
    var ratio = window.devicePixelRatio || 1;
    var rect = this.canvas.getBoundingClientRect();
    this.width = Math.max(1, Math.round(rect.width));
    this.height = Math.max(1, Math.round(rect.height));
    this.canvas.width = this.width * ratio;
    this.canvas.height = this.height * ratio;
    this.ratio = ratio;
    this.render();
  };

  function cumulative(levels) {
    var total = 0;
    return levels.map(function (level) {
      total += Number(level[1]);
      return [Number(level[0]), total];
    });
  }

  /** bids high to low, asks low to high: [[price, size], ...] strings. */
  DepthChart.prototype.draw = function (bids, asks) {
    this.bids = cumulative(bids);
    this.asks = cumulative(asks);
    this.render();
  };

  DepthChart.prototype.render = function () {
    var ctx = this.canvas.getContext("2d");
    var w = this.width;
    var h = this.height;
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var bids = this.bids;
    var asks = this.asks;
    var pad = { left: 8, right: 8, top: 10, bottom: 22 };
    ctx.font = "11px system-ui, sans-serif";
    if (!bids.length && !asks.length) {
      ctx.fillStyle = COLORS.axis;
      ctx.textAlign = "center";
      ctx.fillText("The book is empty", w / 2, h / 2);
      return;
    }
    var best = bids.length ? bids[0][0] : asks[0][0];
    var ask = asks.length ? asks[0][0] : best;
    var mid = (best + ask) / 2;
    // Symmetric around the mid, as wide as the nearer side reaches (both
    // sides stay in view; a far-away order does not squash the chart).
    var bidReach = bids.length ? mid - bids[bids.length - 1][0] : 0;
    var askReach = asks.length ? asks[asks.length - 1][0] - mid : 0;
    var reach =
      (bidReach && askReach ? Math.min(bidReach, askReach) : bidReach || askReach) ||
      mid * 0.01 ||
      1;
    bids = bids.filter(function (p) { return p[0] >= mid - reach; });
    asks = asks.filter(function (p) { return p[0] <= mid + reach; });
    var lo = mid - reach;
    var hi = mid + reach;
    var maxTotal = Math.max(
      bids.length ? bids[bids.length - 1][1] : 0,
      asks.length ? asks[asks.length - 1][1] : 0
    ) * 1.1 || 1;
    var plotW = w - pad.left - pad.right;
    var plotH = h - pad.top - pad.bottom;
    function x(price) {
      return pad.left + ((price - lo) / (hi - lo)) * plotW;
    }
    function y(total) {
      return pad.top + plotH - (total / maxTotal) * plotH;
    }

    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    for (var g = 1; g <= 3; g++) {
      var gy = Math.round(pad.top + (plotH * g) / 4) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, gy);
      ctx.lineTo(w - pad.right, gy);
      ctx.stroke();
    }

    function side(points, stroke, fill, direction) {
      if (!points.length) return;
      var edge = direction < 0 ? lo : hi;
      ctx.beginPath();
      ctx.moveTo(x(points[0][0]), y(0));
      var prev = 0;
      points.forEach(function (p) {
        ctx.lineTo(x(p[0]), y(prev));
        ctx.lineTo(x(p[0]), y(p[1]));
        prev = p[1];
      });
      ctx.lineTo(x(edge), y(prev));
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.lineTo(x(edge), y(0));
      ctx.closePath();
      ctx.fillStyle = fill;
      ctx.fill();
    }
    side(bids, COLORS.bid, COLORS.bidFill, -1);
    side(asks, COLORS.ask, COLORS.askFill, 1);

    ctx.strokeStyle = COLORS.mid;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(Math.round(x(mid)) + 0.5, pad.top);
    ctx.lineTo(Math.round(x(mid)) + 0.5, pad.top + plotH);
    ctx.stroke();
    ctx.setLineDash([]);

    var dp = this.priceDecimals;
    ctx.fillStyle = COLORS.axis;
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "left";
    ctx.fillText(lo.toFixed(dp), pad.left, h - 6);
    ctx.textAlign = "center";
    ctx.fillText(mid.toFixed(dp), x(mid), h - 6);
    ctx.textAlign = "right";
    ctx.fillText(hi.toFixed(dp), w - pad.right, h - 6);
    ctx.textAlign = "left";
    ctx.fillText(maxTotal.toPrecision(3), pad.left, pad.top + 10);
  };

  HKT.DepthChart = DepthChart;
})();
