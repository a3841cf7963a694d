/* Overview dashboard charts (ECharts, vendored). The server renders every number; this file only
   draws the GMV/orders trend, the channel mix and the breakdown view from the JSON in each chart's data-chart attribute
   (no inline script: the CSP forbids it) and makes chart points drill down like the tables' links. */
(function () {
  "use strict";

  var PALETTE = ["#0f766e", "#2563eb", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#dc2626",
    "#4b5563", "#9333ea", "#0d9488", "#ca8a04"];

  // ECharts shows what a tooltip formatter returns as HTML. Channel names come from imported files and
  // events, so every text from the data is escaped here (the CSP already refuses inline scripts and
  // handlers; an injected <img>, <a> or style must not render either). Only ECharts' own marker is HTML.
  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (c) {
      return ESCAPES[c];
    });
  }

  function read(el) {
    try { return JSON.parse(el.getAttribute("data-chart") || "null"); } catch (e) { return null; }
  }

  function moneyFormat(locale, currency) {
    var full = new Intl.NumberFormat(locale, { style: "currency", currency: currency });
    var compact = new Intl.NumberFormat(locale, { style: "currency", currency: currency, notation: "compact",
      maximumFractionDigits: 1 });
    return { full: function (v) { return full.format(v); }, compact: function (v) { return compact.format(v); } };
  }

  function trend(el) {
    var d = read(el);
    if (!d) { return; }
    var money = moneyFormat(d.locale, d.currency);
    var count = new Intl.NumberFormat(d.locale);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    var series = [
      { name: d.names.gmv, type: "line", smooth: true, smoothMonotone: "x", symbolSize: 5, data: d.gmv, yAxisIndex: 0,
        areaStyle: { opacity: 0.08 }, lineStyle: { width: 2 } },
      { name: d.names.orders, type: "bar", data: d.orders, yAxisIndex: 1, barMaxWidth: 14,
        itemStyle: { opacity: 0.35 } }
    ];
    if (d.gmv_last_year) {
      series.push({ name: d.names.gmv_last_year, type: "line", smooth: true, smoothMonotone: "x", symbol: "none", data: d.gmv_last_year,
        yAxisIndex: 0, lineStyle: { type: "dashed", width: 1.5 } });
    }
    chart.setOption({
      animation: false,
      color: ["#0f766e", "#2563eb", "#9ca3af"],
      grid: { left: 64, right: 48, top: 36, bottom: 28 },
      legend: { top: 0, left: 0, itemWidth: 14, itemHeight: 8, textStyle: { fontSize: 12 } },
      tooltip: {
        trigger: "axis",
        valueFormatter: null,
        formatter: function (items) {
          var lines = [escapeHtml(items.length ? items[0].axisValueLabel : "")];
          items.forEach(function (it) {
            var value = it.seriesIndex === 1 ? count.format(it.value) : money.full(it.value);
            lines.push(it.marker + " " + escapeHtml(it.seriesName) + ": " + escapeHtml(value));
          });
          return lines.join("<br>");
        }
      },
      xAxis: { type: "category", data: d.labels, axisTick: { alignWithLabel: true } },
      yAxis: [
        { type: "value", axisLabel: { formatter: function (v) { return money.compact(v); } },
          splitLine: { lineStyle: { color: "#eef0f4" } } },
        // Orders are whole: never a 0.2-order tick, even on a quiet day.
        { type: "value", minInterval: 1, splitLine: { show: false },
          axisLabel: { formatter: function (v) { return count.format(v); } } }
      ],
      series: series
    });
    chart.on("click", function (params) {
      var href = d.links[params.dataIndex];
      if (href) { window.location.assign(href); }
    });
    return chart;
  }

  function channels(el) {
    var d = read(el);
    if (!d || !d.items.length) { el.hidden = true; return; }
    var money = moneyFormat(d.locale, d.currency);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      color: PALETTE,
      tooltip: { trigger: "item", formatter: function (p) {
        return p.marker + " " + escapeHtml(p.name) + ": " + escapeHtml(money.full(p.value)) +
          " (" + escapeHtml(p.percent) + "%)";
      } },
      legend: { orient: "vertical", right: 8, top: "middle", itemWidth: 10, itemHeight: 10, textStyle: { fontSize: 12 } },
      series: [{ type: "pie", radius: ["45%", "72%"], center: ["35%", "50%"], avoidLabelOverlap: true,
        label: { show: false }, data: d.items.map(function (i) { return { name: i.name, value: i.value }; }) }]
    });
    chart.on("click", function (params) {
      var item = d.items[params.dataIndex];
      if (item && item.href) { window.location.assign(item.href); }
    });
    return chart;
  }

  /* The overview's breakdown view (region, device, traffic source…): GMV bars and orders per value. */
  function breakdown(el) {
    var d = read(el);
    if (!d || !d.labels.length) { el.hidden = true; return; }
    var money = moneyFormat(d.locale, d.currency);
    var count = new Intl.NumberFormat(d.locale);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      color: ["#0f766e", "#2563eb"],
      grid: { left: 64, right: 48, top: 36, bottom: 28 },
      legend: { top: 0, left: 0, itemWidth: 14, itemHeight: 8, textStyle: { fontSize: 12 } },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var lines = [escapeHtml(items.length ? items[0].axisValueLabel : "")];
          items.forEach(function (it) {
            var value = it.seriesIndex === 1 ? count.format(it.value) : money.full(it.value);
            lines.push(it.marker + " " + escapeHtml(it.seriesName) + ": " + escapeHtml(value));
          });
          return lines.join("<br>");
        }
      },
      xAxis: { type: "category", data: d.labels, axisLabel: { interval: 0, hideOverlap: true } },
      yAxis: [
        { type: "value", axisLabel: { formatter: function (v) { return money.compact(v); } },
          splitLine: { lineStyle: { color: "#eef0f4" } } },
        { type: "value", minInterval: 1, splitLine: { show: false },
          axisLabel: { formatter: function (v) { return count.format(v); } } }
      ],
      series: [
        { name: d.names.gmv, type: "bar", data: d.gmv, yAxisIndex: 0, barMaxWidth: 28 },
        { name: d.names.orders, type: "line", data: d.orders, yAxisIndex: 1, symbolSize: 6 }
      ]
    });
    return chart;
  }

  /* A product's daily trend: revenue (and the previous period's, dashed) on the money axis; units,
     orders, views and add-to-carts on the count axis. */
  function productTrend(el) {
    var d = read(el);
    if (!d) { return; }
    var money = moneyFormat(d.locale, d.currency);
    var count = new Intl.NumberFormat(d.locale);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    var series = [
      { name: d.names.revenue, type: "line", data: d.revenue, yAxisIndex: 0, symbolSize: 4, areaStyle: { opacity: 0.08 } },
      { name: d.names.previous_revenue, type: "line", data: d.previous_revenue, yAxisIndex: 0, symbol: "none",
        lineStyle: { type: "dashed", width: 1.5 } },
      { name: d.names.units, type: "bar", data: d.units, yAxisIndex: 1, barMaxWidth: 12, itemStyle: { opacity: 0.5 } },
      { name: d.names.orders, type: "line", data: d.orders, yAxisIndex: 1, symbolSize: 4 }
    ];
    if (d.views) {
      series.push({ name: d.names.views, type: "line", data: d.views, yAxisIndex: 1, symbol: "none" });
      series.push({ name: d.names.add_to_cart, type: "line", data: d.add_to_cart, yAxisIndex: 1, symbol: "none" });
    }
    chart.setOption({
      animation: false,
      color: ["#0f766e", "#9ca3af", "#2563eb", "#d97706", "#7c3aed", "#db2777"],
      grid: { left: 64, right: 48, top: 36, bottom: 28 },
      legend: { top: 0, left: 0, itemWidth: 14, itemHeight: 8, textStyle: { fontSize: 12 } },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var lines = [escapeHtml(items.length ? items[0].axisValueLabel : "")];
          items.forEach(function (it) {
            var value = it.seriesIndex < 2 ? money.full(it.value) : count.format(it.value);
            lines.push(it.marker + " " + escapeHtml(it.seriesName) + ": " + escapeHtml(value));
          });
          return lines.join("<br>");
        }
      },
      xAxis: { type: "category", data: d.labels, axisTick: { alignWithLabel: true } },
      yAxis: [
        { type: "value", axisLabel: { formatter: function (v) { return money.compact(v); } },
          splitLine: { lineStyle: { color: "#eef0f4" } } },
        { type: "value", minInterval: 1, splitLine: { show: false },
          axisLabel: { formatter: function (v) { return count.format(v); } } }
      ],
      series: series
    });
    return chart;
  }

  function start() {
    if (!window.echarts) { return; }
    var charts = [];
    var t = document.getElementById("ov-trend");
    var c = document.getElementById("ov-channels");
    if (t) { charts.push(trend(t)); }
    if (c) { charts.push(channels(c)); }
    var v = document.getElementById("ov-view-chart");
    if (v) { charts.push(breakdown(v)); }
    var p = document.getElementById("product-trend");
    if (p) { charts.push(productTrend(p)); }
    window.addEventListener("resize", function () {
      charts.forEach(function (ch) { if (ch) { ch.resize(); } });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
