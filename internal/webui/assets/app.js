// The model page: runs the model on a sample or a file and draws the result.
// Every request goes to this page's own origin (api/... is proxied to the
// model's REST API). No library, nothing from the internet.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };
  var thumb = $("thumb");
  if (thumb) {
    if (thumb.complete && thumb.naturalWidth === 0) thumb.hidden = true;
    thumb.addEventListener("error", function () { thumb.hidden = true; });
  }
  var result = $("result");
  if (!result) return;
  var busy = false, inputURL = null, objectURL = null, downloadURL = null;

  function setState(s) { document.body.dataset.state = s; }

  // run sends one request and shows what comes back.
  function run(what, url, init, imageURL) {
    if (busy) return;
    busy = true;
    inputURL = imageURL;
    result.hidden = false;
    $("what").textContent = "· " + what;
    $("status").textContent = "Running…";
    $("error").hidden = true;
    $("conversion").hidden = true;
    $("outputs").textContent = "";
    $("raw-box").hidden = true;
    setState("running");
    var t0 = performance.now();
    fetch(url, init).then(function (res) {
      return res.text().then(function (body) { return { res: res, body: body }; });
    }).then(function (r) {
      var ms = Math.round(performance.now() - t0), data = null;
      try { data = JSON.parse(r.body); } catch (e) { /* not JSON */ }
      if (data !== null) showRaw(data);
      var conv = r.res.headers.get("X-Modelhub-Conversion");
      if (conv) {
        try { conv = decodeURIComponent(conv); } catch (e) { /* shown as sent */ }
        $("conversion").textContent = "Converted for the model: " + conv;
        $("conversion").hidden = false;
      }
      if (r.res.headers.get("X-Modelhub-Ui-Error") && data && data.error) {
        fail(text(data.error), ms);
      } else if (data && typeof data === "object" && !Array.isArray(data) && "error" in data) {
        fail("The engine reported an error: " + text(data.error), ms);
      } else if (!r.res.ok) {
        fail("The engine answered HTTP " + r.res.status + (r.body ? ": " + r.body.slice(0, 2000) : ""), ms);
      } else if (!data || !Array.isArray(data.output)) {
        fail("The engine's answer is not a prediction (no \"output\" list); see the raw answer below.", ms);
        if (data === null) showRawText(r.body);
      } else {
        show(data, ms);
      }
    }).catch(function (e) {
      fail("No answer from the web UI: " + e.message + ". Is modelhub still running?", Math.round(performance.now() - t0));
    }).then(function () { busy = false; });
  }

  function text(v) { return typeof v === "string" ? v : JSON.stringify(v); }

  function fail(msg, ms) {
    $("error").textContent = msg;
    $("error").hidden = false;
    $("status").textContent = "Failed after " + ms + " ms.";
    setState("error");
  }

  function showRaw(data) { showRawText(JSON.stringify(data, null, 2)); }

  function showRawText(s) {
    $("raw").textContent = s;
    $("raw-box").hidden = false;
    if (downloadURL) URL.revokeObjectURL(downloadURL);
    downloadURL = URL.createObjectURL(new Blob([s], { type: "application/json" }));
    $("download").href = downloadURL;
  }

  function show(data, ms) {
    var parts = [];
    if (typeof data.processing_time === "number") parts.push("model: " + fmtSeconds(data.processing_time));
    parts.push("round trip: " + ms + " ms");
    $("status").textContent = "Done. Latency " + parts.join(", ") + ".";
    var outs = $("outputs");
    if (inputURL) outs.appendChild(inputBox());
    data.output.forEach(function (o, i) { outs.appendChild(drawOutput(o, i)); });
    setState("done");
  }

  // inputBox shows the input the result is for, beside every result.
  function inputBox() {
    var box = el("div", "out input-shown");
    box.dataset.type = "input";
    box.appendChild(el("h3", null, "Input"));
    var img = el("img");
    img.src = inputURL;
    img.alt = "input";
    box.appendChild(overlay(img));
    return box;
  }

  function fmtSeconds(s) { return s < 1 ? Math.round(s * 1000) + " ms" : s.toFixed(2) + " s"; }

  function drawOutput(o, i) {
    var box = el("div", "out");
    box.dataset.type = o.type || "";
    var h = el("h3", null, o.name || "output " + (i + 1));
    h.appendChild(el("span", "muted", " " + (o.type || "") + (o.shape ? " · shape [" + o.shape.join(", ") + "]" : "")));
    box.appendChild(h);
    if (o.description) box.appendChild(el("p", "muted", o.description));
    var p = o.prediction;
    try {
      if (typeof p === "string" && /\/api\/output\//.test(p)) box.appendChild(fileOutput(p, o.type));
      else if (o.type === "label_list" && Array.isArray(p)) box.appendChild(labels(p));
      else if (o.type === "vector" && Array.isArray(p)) box.appendChild(vector(p));
      else if ((o.type === "mask_image" || o.type === "heatmap" || o.type === "image") && Array.isArray(p)) box.appendChild(picture(p, o.type));
      else box.appendChild(el("pre", "json", JSON.stringify(p, null, 2)));
    } catch (e) {
      box.appendChild(el("p", "muted", "Cannot draw this output (" + e.message + "); it is shown as JSON."));
      box.appendChild(el("pre", "json", JSON.stringify(p, null, 2)));
    }
    return box;
  }

  var KINDS = { mask_image: "mask", heatmap: "heat", image: "gray" };

  // fileOutput: an array the engine saved to a file under /api/output/ (the
  // real engine writes .h5; others .png). A mask, heatmap or image is drawn
  // by modelhub (_ui/preview) and laid over the input; anything else is a link.
  function fileOutput(u, type) {
    var name = u.slice(u.lastIndexOf("/api/output/") + 12);
    var rel = "api/output/" + name;
    var wrap = el("div", "pic");
    var p = el("p", "muted", "The engine saved this output as a file: ");
    var a = el("a", null, name);
    a.href = rel;
    a.download = name;
    p.appendChild(a);
    var kind = KINDS[type];
    if (!kind && /\.(png|jpe?g|gif)$/i.test(name)) kind = "gray";
    if (!kind || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) { wrap.appendChild(p); return wrap; }
    var wait = el("p", "muted", "Drawing…");
    wrap.appendChild(wait);
    wrap.appendChild(p);
    fetch("_ui/preview?file=" + encodeURIComponent(name) + "&kind=" + kind).then(function (res) {
      return res.json().then(function (d) { return { ok: res.ok, d: d }; });
    }).then(function (r) {
      if (!r.ok || !r.d || !Array.isArray(r.d.planes)) throw new Error(r.d && r.d.error ? text(r.d.error) : "no picture");
      wait.remove();
      wrap.insertBefore(layers(r.d, kind), p);
    }).catch(function (e) {
      wait.textContent = "Cannot draw this output: " + e.message;
    });
    return wrap;
  }

  // layers lays the drawn planes over the input (a 2-D input under a 2-D
  // output), with an opacity slider, and says when a mask is blank.
  function layers(d, kind) {
    var box = el("div");
    var over = inputURL && d.planes.length === 1 && kind !== "gray";
    var tops = [];
    d.planes.forEach(function (pl) {
      var fig = el("figure", "plane");
      var top = el("img", over ? "over" : "solo");
      top.src = pl.src;
      top.alt = pl.name;
      top.dataset.kind = kind;
      if (over) {
        var base = el("img", "base");
        base.src = inputURL;
        base.alt = "input";
        top.style.opacity = "0.55";
        fig.appendChild(overlay(base, top));
      } else {
        fig.appendChild(overlay(top));
      }
      tops.push(top);
      if (d.planes.length > 1) fig.appendChild(el("figcaption", "muted", pl.name));
      box.appendChild(fig);
    });
    if (over) box.appendChild(slider(function (v) { tops.forEach(function (t) { t.style.opacity = v; }); }));
    if (d.blank) box.appendChild(el("p", "blank", "The mask is blank: no pixel is labelled."));
    return box;
  }

  function slider(set) {
    var lab = el("label", "muted", "Overlay opacity ");
    var r = el("input");
    r.type = "range"; r.min = "0"; r.max = "100"; r.value = "55";
    r.className = "opacity";
    r.addEventListener("input", function () { set(String(r.value / 100)); });
    lab.appendChild(r);
    return lab;
  }

  var TOP = 10;
  function labels(list) {
    var rows = list.slice().sort(function (a, b) { return (b.probability || 0) - (a.probability || 0); });
    var grid = el("div", "bars");
    grid.id = "bars-" + Math.random().toString(36).slice(2);
    function fill(n) {
      grid.textContent = "";
      rows.slice(0, n).forEach(function (r) {
        var pr = Number(r.probability) || 0;
        var row = el("div", "bar-row");
        row.style.display = "contents";
        row.appendChild(el("span", "label", String(r.label)));
        var bar = el("div", "bar"), fillEl = el("i");
        fillEl.style.width = Math.max(0, Math.min(100, pr * 100)).toFixed(1) + "%";
        bar.appendChild(fillEl);
        row.appendChild(bar);
        row.appendChild(el("span", "pct", (pr * 100).toFixed(1) + " %"));
        grid.appendChild(row);
      });
    }
    fill(TOP);
    if (rows.length <= TOP) return grid;
    var wrap = el("div");
    wrap.appendChild(grid);
    var more = el("button", null, "Show all " + rows.length + " labels");
    more.type = "button";
    more.addEventListener("click", function () { fill(rows.length); more.remove(); });
    wrap.appendChild(more);
    return wrap;
  }

  var VSHOW = 20, VMAX = 1000;
  function vector(v) {
    var t = el("table", "vec"), wrap = el("div");
    function fill(n) {
      t.textContent = "";
      var head = el("tr");
      head.appendChild(el("th", null, "#"));
      head.appendChild(el("th", null, "value"));
      t.appendChild(head);
      v.slice(0, n).forEach(function (x, i) {
        var tr = el("tr");
        tr.appendChild(el("td", null, String(i)));
        tr.appendChild(el("td", null, typeof x === "number" ? String(+x.toPrecision(6)) : JSON.stringify(x)));
        t.appendChild(tr);
      });
    }
    fill(VSHOW);
    wrap.appendChild(t);
    if (v.length > VSHOW) {
      var more = el("button", null, "Show " + (v.length > VMAX ? "the first " + VMAX : "all " + v.length) + " values");
      more.type = "button";
      more.addEventListener("click", function () { fill(VMAX); more.remove(); });
      wrap.appendChild(more);
    }
    if (v.length > VMAX) wrap.appendChild(el("p", "muted", "All " + v.length + " values are in the raw JSON."));
    return wrap;
  }

  function dims(a) {
    var d = [];
    while (Array.isArray(a)) { d.push(a.length); a = a[0]; }
    return d;
  }

  // picture draws a 2-D array (H×W), an RGB(A) image (H×W×3|4) or the
  // middle slice of a volume (D×H×W), over the input when that is an image.
  function picture(p, type) {
    var d = dims(p), plane, rgb = false, note = "";
    if (d.length === 2) plane = p;
    else if (d.length === 3 && (d[2] === 3 || d[2] === 4)) { plane = p; rgb = true; }
    else if (d.length === 3) {
      var k = Math.floor(d[0] / 2);
      plane = p[k];
      note = "Slice " + (k + 1) + " of " + d[0] + " (the volume is in the raw JSON).";
    } else throw new Error(d.length + "-dimensional array");
    var h = plane.length, w = plane[0].length;
    var c = el("canvas");
    c.width = w; c.height = h;
    var ctx = c.getContext("2d"), img = ctx.createImageData(w, h), px = img.data;
    var lo = Infinity, hi = -Infinity, x, y, v;
    if (!rgb) for (y = 0; y < h; y++) for (x = 0; x < w; x++) { v = +plane[y][x]; if (v < lo) lo = v; if (v > hi) hi = v; }
    var span = hi > lo ? hi - lo : 1, over = inputURL && !rgb, blank = type === "mask_image" && !rgb && lo === 0 && hi === 0;
    var scale = rgb && maxOf(p) <= 1 ? 255 : 1;
    for (y = 0; y < h; y++) for (x = 0; x < w; x++) {
      var i = (y * w + x) * 4, col;
      if (rgb) {
        var q = plane[y][x];
        col = [q[0] * scale, q[1] * scale, q[2] * scale, q.length > 3 ? q[3] * scale : 255];
      } else {
        v = (+plane[y][x] - lo) / span;
        if (type === "mask_image") col = +plane[y][x] === 0 ? [0, 0, 0, over ? 0 : 255] : palette(+plane[y][x]);
        else if (type === "heatmap") col = heat(v);
        else col = [v * 255, v * 255, v * 255, 255];
      }
      px[i] = col[0]; px[i + 1] = col[1]; px[i + 2] = col[2]; px[i + 3] = col[3];
    }
    ctx.putImageData(img, 0, 0);
    var wrap = el("div", "pic");
    if (over) {
      var base = el("img");
      base.src = inputURL;
      base.alt = "input";
      c.className = "over";
      c.style.opacity = "0.55";
      wrap.appendChild(overlay(base, c));
      wrap.appendChild(slider(function (v) { c.style.opacity = v; }));
    } else wrap.appendChild(c);
    if (blank) wrap.appendChild(el("p", "blank", "The mask is blank: no pixel is labelled."));
    if (type === "heatmap" && isFinite(lo)) wrap.appendChild(el("p", "muted", "Range " + +lo.toPrecision(4) + " (blue) to " + +hi.toPrecision(4) + " (red)."));
    if (note) wrap.appendChild(el("p", "muted", note));
    return wrap;
  }

  function maxOf(p) {
    var m = -Infinity;
    JSON.stringify(p, function (k, v) { if (typeof v === "number" && v > m) m = v; return v; });
    return m;
  }

  function overlay(base, top) {
    var s = el("div", "stack");
    s.appendChild(base);
    if (top) s.appendChild(top);
    return s;
  }

  var PAL = [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230]];
  function palette(v) { var c = PAL[Math.abs(Math.round(v) - 1) % PAL.length]; return [c[0], c[1], c[2], 255]; }

  function heat(v) {
    var r = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 3)));
    var g = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 2)));
    var b = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 1)));
    return [r * 255, g * 255, b * 255, 255];
  }

  // Samples.
  Array.prototype.forEach.call(document.querySelectorAll(".sample"), function (b) {
    b.addEventListener("click", function () {
      run(b.dataset.name, "api/predict_sample?filename=" + encodeURIComponent(b.dataset.name), {}, b.dataset.image ? b.dataset.url : null);
    });
  });

  // One file (single-input models), picked or dropped.
  // A DICOM file (DICM at byte 128) or a zip goes to the UI, which converts
  // it for the model; anything else straight to the model.
  function upload(file) {
    if (!file) return;
    var fd = new FormData();
    fd.append("file", file, file.name);
    if (objectURL) URL.revokeObjectURL(objectURL);
    objectURL = /^image\/(png|jpeg|gif|bmp|webp)$/.test(file.type) ? URL.createObjectURL(file) : null;
    if (!drop || !drop.dataset.convert) {
      run(file.name, "api/predict", { method: "POST", body: fd }, objectURL);
      return;
    }
    file.slice(0, 132).arrayBuffer().then(function (buf) {
      var b = new Uint8Array(buf), s = String.fromCharCode.apply(null, b);
      var medical = s.slice(128, 132) === "DICM" || s.slice(0, 4) === "PK\x03\x04" || /\.(dcm|zip)$/i.test(file.name);
      run(file.name, medical ? "_ui/predict_upload" : "api/predict", { method: "POST", body: fd }, medical ? null : objectURL);
    }, function () {
      run(file.name, "api/predict", { method: "POST", body: fd }, objectURL);
    });
  }
  var fileIn = $("file"), drop = $("drop");
  if (fileIn) fileIn.addEventListener("change", function () { upload(fileIn.files[0]); fileIn.value = ""; });
  if (drop) {
    ["dragenter", "dragover"].forEach(function (ev) {
      drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      drop.addEventListener(ev, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
    });
  }

  // One file per named input (multi-input models).
  var multi = $("multi");
  if (multi) multi.addEventListener("submit", function (e) {
    e.preventDefault();
    run("your files", "_ui/predict_multi", { method: "POST", body: new FormData(multi) }, null);
  });

  $("copy").addEventListener("click", function () {
    var s = $("raw").textContent, b = $("copy");
    var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard) navigator.clipboard.writeText(s).then(done, function () { b.textContent = "Copy failed: select the text"; });
  });
  setState("ready");
})();
