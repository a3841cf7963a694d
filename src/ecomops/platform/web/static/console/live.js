/* Live dashboard (/t/{shop}/live): draws the embedded snapshot, then follows the SSE stream.
 *
 * Every snapshot is the JSON of GET /api/v1/t/{shop}/live. Numbers are formatted with Intl in the page's
 * language and the shop's currency; labels come translated from data-label-* attributes of #live-config.
 * No inline code anywhere (the CSP forbids it): this file is the page's only script besides ECharts.
 * EventSource reconnects by itself when the server ends a stream (max_seconds) or the network drops.
 */
(function () {
  "use strict";

  var config = document.getElementById("live-config");
  var dataBlock = document.getElementById("live-data");
  if (!config || !dataBlock) return;

  var locale = config.dataset.locale || "en";
  var currency = config.dataset.currency || "CNY";
  var zone = config.dataset.timezone || "UTC";
  var big = document.body.classList.contains("live-big");
  var label = function (name) { return config.dataset["label" + name] || name; };
  // Channels and product names in the page's language (the snapshot keeps the data's identifiers).
  var channelLabels = JSON.parse(config.dataset.channelLabels || "{}");
  var channelName = function (id) { return channelLabels[id] || id; };
  var zh = locale.indexOf("zh") === 0;
  var productName = function (p) { return (zh ? p.name_zh : p.name_en) || p.name || p.product_id; };

  var moneyFmt = new Intl.NumberFormat(locale, { style: "currency", currency: currency });
  var moneyShort = new Intl.NumberFormat(locale, { style: "currency", currency: currency, notation: "compact", maximumFractionDigits: 1 });
  var intFmt = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  var pctFmt = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var timeFmt = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", timeZone: zone, hour12: false });
  var clockFmt = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: zone, hour12: false });

  // Headline tiles show whole currency units (cents are noise on a dashboard); the tooltip is exact.
  var moneyWhole = new Intl.NumberFormat(locale, { style: "currency", currency: currency, currencyDisplay: "narrowSymbol", maximumFractionDigits: 0 });

  function format(value, kind) {
    if (value === null || value === undefined || value === "") return "–";
    if (kind === "money") return moneyFmt.format(Number(value));
    if (kind === "money-whole") return moneyWhole.format(Number(value));
    if (kind === "int") return intFmt.format(Number(value));
    if (kind === "percent") return pctFmt.format(Number(value));
    return String(value);
  }

  function pick(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    if (text instanceof Node) td.appendChild(text); else td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function fillTable(id, items, columns, emptyText) {
    var body = document.querySelector("#" + id + " tbody");
    if (!body) return;
    var rows = document.createDocumentFragment();
    if (!items.length) {
      var tr = document.createElement("tr");
      var td = cell(tr, emptyText, "empty");
      td.colSpan = document.querySelectorAll("#" + id + " thead th").length;
      rows.appendChild(tr);
    }
    items.forEach(function (item) {
      var tr = document.createElement("tr");
      columns(item).forEach(function (c) { cell(tr, c[0], c[1]); });
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
  }

  function orderLink(id) {
    var a = document.createElement("a");
    a.href = config.dataset.orderBase + encodeURIComponent(id);
    a.textContent = id;
    a.className = "mono";
    return a;
  }

  function badge(on) {
    var span = document.createElement("span");
    span.className = "badge " + (on ? "good" : "");
    span.textContent = on ? label("OnAir") : label("Ended");
    return span;
  }

  var charts = {};
  var ink = big ? "#e6e9ef" : "#4a5263";
  var grid = big ? "#2a3140" : "#e3e6ec";

  function chart(id) {
    if (!window.echarts) return null;
    if (!charts[id]) {
      var el = document.getElementById(id);
      if (!el) return null;
      charts[id] = window.echarts.init(el, null, { renderer: "canvas" });
    }
    return charts[id];
  }

  function axis(extra) {
    return Object.assign({
      axisLabel: { color: ink }, axisLine: { lineStyle: { color: grid } }, splitLine: { lineStyle: { color: grid } }
    }, extra || {});
  }

  // An empty chart says so in words instead of drawing a flat line on a made-up 0–1 axis.
  function emptyNote(text) {
    return text ? [{ type: "text", left: "center", top: "middle", silent: true,
      style: { text: text, fill: ink, fontSize: big ? 18 : 14 } }] : [];
  }

  function drawCharts(snap) {
    var minutes = snap.minutes || [];
    var labels = minutes.map(function (m) { return timeFmt.format(new Date(m.minute)); });
    var noOrders = !minutes.some(function (m) { return m.orders > 0; });
    var noVisits = !minutes.some(function (m) { return m.visitors > 0; });
    var noChannels = !(snap.channels || []).some(function (ch) { return Number(ch.gmv) > 0; });
    var merge = { replaceMerge: ["graphic"] };
    var c = chart("live-minutes-chart");
    if (c) {
      c.setOption({
        graphic: emptyNote(noOrders && label("QuietOrders")),
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: [label("Gmv"), label("Orders")], textStyle: { color: ink } },
        grid: { left: 64, right: 48, top: 40, bottom: 28 },
        xAxis: axis({ type: "category", data: labels }),
        yAxis: [
          axis({ type: "value", axisLabel: { show: !noOrders, color: ink, formatter: function (v) { return moneyShort.format(v); } } }),
          axis({ type: "value", minInterval: 1, splitLine: { show: false }, axisLabel: { show: !noOrders, color: ink } })
        ],
        series: [
          { name: label("Gmv"), type: "bar", data: minutes.map(function (m) { return Number(m.gmv); }), itemStyle: { color: "#0f766e" } },
          { name: label("Orders"), type: "line", yAxisIndex: 1, showSymbol: false, data: minutes.map(function (m) { return m.orders; }), itemStyle: { color: "#f59e0b" } }
        ]
      }, merge);
    }
    var t = chart("live-traffic-chart");
    if (t) {
      t.setOption({
        graphic: emptyNote(noVisits && label("QuietVisits")),
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: [label("Visitors"), label("Conversion")], textStyle: { color: ink } },
        grid: { left: 64, right: 48, top: 40, bottom: 28 },
        xAxis: axis({ type: "category", data: labels }),
        yAxis: [
          axis({ type: "value", minInterval: 1, axisLabel: { show: !noVisits, color: ink } }),
          axis({ type: "value", splitLine: { show: false }, axisLabel: { show: !noVisits, color: ink, formatter: function (v) { return pctFmt.format(v); } } })
        ],
        series: [
          { name: label("Visitors"), type: "line", areaStyle: { opacity: 0.15 }, showSymbol: false, data: minutes.map(function (m) { return m.visitors; }), itemStyle: { color: "#2563eb" } },
          { name: label("Conversion"), type: "line", yAxisIndex: 1, showSymbol: false, connectNulls: false, data: minutes.map(function (m) { return m.conversion; }), itemStyle: { color: "#db2777" } }
        ]
      }, merge);
    }
    var p = chart("live-channels-chart");
    if (p) {
      // Names and shares go in the legend (one per line, whole words), not around the ring: a narrow card
      // cut the outside labels of long names ("WeChat mini program") at its edges.
      var slices = noChannels ? [] : (snap.channels || []).map(function (ch) {
        return { name: channelName(ch.channel), value: Number(ch.gmv) };
      });
      var total = slices.reduce(function (sum, s) { return sum + s.value; }, 0);
      var share = {};
      slices.forEach(function (s) { share[s.name] = total > 0 ? pctFmt.format(s.value / total) : ""; });
      p.setOption({
        graphic: emptyNote(noChannels && label("None")),
        animation: false,
        tooltip: { trigger: "item", valueFormatter: function (v) { return moneyFmt.format(v); } },
        legend: { bottom: 0, left: "center", itemGap: 12, itemWidth: 12, itemHeight: 10,
          textStyle: { color: ink, fontSize: big ? 15 : 12 },
          formatter: function (name) { return name + " " + (share[name] || ""); } },
        series: [{
          type: "pie", radius: ["28%", "48%"], center: ["50%", "36%"], showEmptyCircle: false,
          label: { show: false }, labelLine: { show: false },
          data: slices
        }]
      }, merge);
    }
  }

  var drawn = false;

  function draw(snap) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var value = pick(snap, el.dataset.live);
      var text = format(value, el.dataset.format);
      if (el.textContent !== text) {
        el.textContent = text;
        el.title = el.dataset.format === "money-whole" ? format(value, "money") : text;
        if (drawn) { // highlight changes, not the first paint
          el.classList.remove("flash");
          void el.offsetWidth; // restart the highlight animation
          el.classList.add("flash");
        }
      }
    });
    drawn = true;
    fillTable("live-hot", snap.hot_products || [], function (p) {
      return [[String(p.rank), "num"], [productName(p)], [format(p.units, "int"), "num"], [format(p.revenue, "money"), "num"]];
    }, label("None"));
    fillTable("live-sessions", snap.live_sessions || [], function (s) {
      var name = (s.title || s.live_session_id) + (s.host ? " · " + s.host : "");
      var viewers = s.peak_viewers == null ? "–" : format(s.peak_viewers, "int");
      // Titles and hosts are the streamer's own words: shown as typed, marked not to translate.
      var title = document.createElement("span");
      title.textContent = name;
      title.setAttribute("translate", "no");
      return [[title], [badge(s.on_air)], [viewers, "num"], [format(s.orders, "int"), "num"], [format(s.gmv, "money"), "num"]];
    }, label("NoSessions"));
    fillTable("live-unpaid", snap.unpaid || [], function (o) {
      return [[orderLink(o.order_id)], [clockFmt.format(new Date(o.ordered_at))], [o.channel ? channelName(o.channel) : "–"], [format(o.total, "money"), "num"]];
    }, label("NoUnpaid"));
    drawCharts(snap);
    var clock = document.getElementById("live-clock");
    if (clock && snap.as_of) clock.textContent = clockFmt.format(new Date(snap.as_of));
    document.body.dataset.liveAsOf = snap.as_of || "";
  }

  function status(state) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.state = state;
    el.textContent = label(state === "live" ? "Live" : state === "connecting" ? "Connecting" : "Reconnecting");
  }

  var first = JSON.parse(dataBlock.textContent);

  function start() {
    draw(first);
    if (!window.EventSource) return;
    var source = new EventSource(config.dataset.stream);
    source.addEventListener("open", function () { status("live"); });
    source.addEventListener("snapshot", function (event) {
      status("live");
      draw(JSON.parse(event.data));
    });
    source.addEventListener("error", function () { status("reconnecting"); });
    window.addEventListener("resize", function () {
      Object.keys(charts).forEach(function (k) { charts[k].resize(); });
    });
  }

  var full = document.getElementById("live-fullscreen");
  if (full) {
    full.addEventListener("click", function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
