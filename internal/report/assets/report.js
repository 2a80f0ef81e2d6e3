// report.html's cards: built from the JSON in #data, one page at a time (the
// images load lazily), filtered and sorted in place. Text goes in with
// textContent only; nothing is fetched but the images beside the page.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };
  var cases = JSON.parse($("data").textContent);
  var PAGE = 60, page = 0, shown = cases;

  function top(c) { return c.labels && c.labels.length ? c.labels[0] : null; }
  function prob(c) { var t = top(c); return t ? Number(t.probability) || 0 : -1; }

  // a relative link to a file in the folder, each part encoded
  function rel(p) {
    return "./" + String(p).split("/").map(encodeURIComponent).join("/");
  }

  // label filter: the top labels, most frequent first
  (function () {
    var n = {};
    cases.forEach(function (c) { var t = top(c); if (t) n[t.label] = (n[t.label] || 0) + 1; });
    Object.keys(n).sort(function (a, b) { return n[b] - n[a] || (a < b ? -1 : 1); }).slice(0, 500).forEach(function (l) {
      var o = el("option", null, l + " (" + n[l] + ")");
      o.value = l;
      $("label").appendChild(o);
    });
  })();

  var cmp = {
    "input": function (a, b) { return a.input < b.input ? -1 : a.input > b.input ? 1 : 0; },
    "prob-desc": function (a, b) { return prob(b) - prob(a); },
    "prob-asc": function (a, b) { return prob(a) - prob(b); },
    "label": function (a, b) {
      var x = top(a) ? top(a).label : "\uffff", y = top(b) ? top(b).label : "\uffff";
      return x < y ? -1 : x > y ? 1 : prob(b) - prob(a);
    },
    "status": function (a, b) { return (a.status === "failed" ? 0 : 1) - (b.status === "failed" ? 0 : 1); },
    "latency-desc": function (a, b) { return (b.latency_ms || 0) - (a.latency_ms || 0); }
  };

  function apply() {
    var q = $("q").value.trim().toLowerCase(), st = $("status").value, lab = $("label").value;
    var pmin = parseFloat($("pmin").value) || 0;
    shown = cases.filter(function (c) {
      if (st && c.status !== st) return false;
      var t = top(c);
      if (lab && (!t || t.label !== lab)) return false;
      if (pmin > 0 && (!t || t.probability < pmin)) return false;
      if (q) {
        var hay = c.input.toLowerCase();
        (c.labels || []).forEach(function (l) { hay += "\n" + String(l.label).toLowerCase(); });
        if (c.error) hay += "\n" + c.error.toLowerCase();
        if (hay.indexOf(q) < 0) return false;
      }
      return true;
    });
    var f = cmp[$("sort").value] || cmp.input;
    shown = shown.map(function (c, i) { return [c, i]; }).sort(function (a, b) { return f(a[0], b[0]) || cmp.input(a[0], b[0]) || a[1] - b[1]; }).map(function (x) { return x[0]; });
    page = 0;
    draw();
  }

  function draw() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(Math.max(0, page), pages - 1);
    var from = page * PAGE, to = Math.min(shown.length, from + PAGE);
    var main = $("cases");
    main.textContent = "";
    var frag = document.createDocumentFragment();
    for (var i = from; i < to; i++) frag.appendChild(card(shown[i]));
    main.appendChild(frag);
    $("range").textContent = shown.length ? (from + 1) + "–" + to + " of " + shown.length +
      (shown.length !== cases.length ? " (filtered from " + cases.length + ")" : "") : "no case matches";
    ["prev", "prev2"].forEach(function (id) { $(id).disabled = page === 0; });
    ["next", "next2"].forEach(function (id) { $(id).disabled = page >= pages - 1; });
    document.body.dataset.state = "ready";
    if (!window.__readyAt) window.__readyAt = performance.now();
    document.body.dataset.shown = String(to - from);
  }

  function card(c) {
    var d = el("article", "card");
    d.dataset.status = c.status;
    d.dataset.input = c.input;
    var h = el("h2", null, c.input + " ");
    h.appendChild(el("span", "badge", c.status));
    d.appendChild(h);
    var meta = [];
    if (c.latency_ms) meta.push(c.latency_ms >= 1000 ? (c.latency_ms / 1000).toFixed(1) + " s" : Math.round(c.latency_ms) + " ms");
    if (c.time) meta.push(c.time);
    if (meta.length) d.appendChild(el("div", "muted", meta.join(" · ")));
    if (c.error) d.appendChild(el("p", "err", c.error));
    if (c.labels && c.labels.length) d.appendChild(bars(c.labels));
    if (c.views && c.views.length) {
      var vs = el("div", "views");
      c.views.forEach(function (v) { vs.appendChild(view(v)); });
      d.appendChild(vs);
    }
    (c.notes || []).forEach(function (n) { d.appendChild(el("p", "note", n)); });
    if (c.files && c.files.length) {
      var p = el("p", "files", "Files: ");
      c.files.forEach(function (f, i) {
        if (i) p.appendChild(document.createTextNode(", "));
        var a = el("a", null, f.name || f.path);
        a.href = rel(f.path);
        a.title = f.type + " · " + f.path;
        p.appendChild(a);
      });
      d.appendChild(p);
    }
    return d;
  }

  function bars(labels) {
    var g = el("div", "bars");
    labels.forEach(function (l) {
      var pr = Number(l.probability) || 0;
      g.appendChild(el("span", "label", String(l.label)));
      var b = el("div", "bar"), f = el("i");
      f.style.width = Math.max(0, Math.min(100, pr * 100)).toFixed(1) + "%";
      b.appendChild(f);
      g.appendChild(b);
      g.appendChild(el("span", "pct", (pr * 100).toFixed(1) + " %"));
    });
    return g;
  }

  function img(src, cls, alt) {
    var i = el("img", cls);
    i.loading = "lazy";
    i.decoding = "async";
    i.alt = alt;
    i.src = rel(src);
    return i;
  }

  function view(v) {
    var w = el("section", "view");
    w.appendChild(el("h3", null, v.title));
    var ps = el("div", "planes");
    (v.planes || []).forEach(function (p) {
      var fig = el("figure"), s = el("div", "stack");
      if (p.base) s.appendChild(img(p.base, "base", "input, " + p.name));
      (p.layers || []).forEach(function (l, i) {
        var li = img(l.src, "layer " + l.kind + (!p.base && i === 0 ? " solo" : ""), l.name + " (" + l.kind + ")");
        li.dataset.kind = l.kind;
        s.appendChild(li);
      });
      fig.appendChild(s);
      if (v.planes.length > 1) fig.appendChild(el("figcaption", null, p.name));
      ps.appendChild(fig);
    });
    w.appendChild(ps);
    (v.blank || []).forEach(function (n) { w.appendChild(el("p", "blank", n + ": the mask is blank (no labelled pixel)")); });
    return w;
  }

  function opacity() { document.documentElement.style.setProperty("--op", String($("opacity").value / 100)); }

  ["q", "pmin"].forEach(function (id) { $(id).addEventListener("input", apply); });
  ["status", "label", "sort"].forEach(function (id) { $(id).addEventListener("change", apply); });
  $("opacity").addEventListener("input", opacity);
  ["mask", "heat"].forEach(function (k) {
    $("show-" + k).addEventListener("change", function () { document.body.classList.toggle("hide-" + k, !this.checked); });
  });
  $("controls").addEventListener("submit", function (e) { e.preventDefault(); });
  ["prev", "prev2"].forEach(function (id) { $(id).addEventListener("click", function () { page--; draw(); window.scrollTo(0, 0); }); });
  ["next", "next2"].forEach(function (id) { $(id).addEventListener("click", function () { page++; draw(); window.scrollTo(0, 0); }); });
  opacity();
  apply();
})();
