"""The inline CSS and JavaScript of ``imgloss report`` (:mod:`imgloss.report.html`).

The script sorts the pairs table by a clicked column (a pair's detail row moves with
it), filters rows by status, opens a pair's detail row (loading its full-size images
only then), and drives the golden/candidate slider and blink views. No network: the
page must work as a CI artifact opened from disk.
"""

STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; }
th { background: #f3f3f3; } #pairs thead th { cursor: pointer; user-select: none; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td.status, td.bad { color: #b00; font-weight: bold; }
tr.error td.status { color: #b60; font-weight: bold; } tr.pass td.status { color: #070; }
.warn { color: #b60; } .note { color: #555; font-size: 0.9em; }
img.thumb { display: block; max-width: 480px; cursor: zoom-in; border: 1px solid #ddd; }
img.heatmap { max-width: 100%; } tr.detail > td { background: #fafafa; }
.hidden { display: none; } #filters label { margin-right: 1em; }
.views { display: flex; gap: 1.5em; flex-wrap: wrap; align-items: flex-start; }
.cmp { position: relative; display: inline-block; line-height: 0; }
.cmp img { max-width: 600px; image-rendering: pixelated; }
.cmp img.top { position: absolute; left: 0; top: 0; clip-path: inset(0 0 0 50%); }
.blink img { max-width: 600px; image-rendering: pixelated; }
""".strip()

SCRIPT = """
function pairRows(body) {
  return Array.prototype.filter.call(body.rows, function (row) { return row.classList.contains("pair"); });
}
document.querySelectorAll("#pairs thead th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = document.querySelector("#pairs tbody");
    var up = th.dataset.dir !== "up";
    th.dataset.dir = up ? "up" : "down";
    function key(row) {
      var cell = row.cells[column], raw = cell.dataset.sort;
      if (raw === undefined) { return cell.textContent.trim().toLowerCase(); }
      var n = parseFloat(raw);
      return isNaN(n) ? Infinity : n;
    }
    var rows = pairRows(body).map(function (row) { return [row, row.nextElementSibling]; });
    rows.sort(function (a, b) {
      var x = key(a[0]), y = key(b[0]);
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
    });
    rows.forEach(function (pair) {
      body.appendChild(pair[0]);
      if (pair[1] && pair[1].classList.contains("detail")) { body.appendChild(pair[1]); }
    });
  });
});
function applyFilters() {
  var shown = {};
  document.querySelectorAll("#filters input").forEach(function (box) { shown[box.value] = box.checked; });
  pairRows(document.querySelector("#pairs tbody")).forEach(function (row) {
    var hide = shown[row.dataset.status] === false;
    row.classList.toggle("hidden", hide);
    var detail = row.nextElementSibling;
    if (hide && detail && detail.classList.contains("detail")) { detail.classList.add("hidden"); }
  });
}
document.querySelectorAll("#filters input").forEach(function (box) { box.addEventListener("change", applyFilters); });
function openDetail(id) {
  var detail = document.getElementById(id);
  detail.classList.toggle("hidden");
  detail.querySelectorAll("img[data-src]").forEach(function (img) {
    img.src = img.dataset.src; img.removeAttribute("data-src");
  });
}
document.querySelectorAll("[data-detail]").forEach(function (el) {
  el.addEventListener("click", function () { openDetail(el.dataset.detail); });
});
document.querySelectorAll(".cmp input").forEach(function (range) {
  range.addEventListener("input", function () {
    range.parentNode.querySelector("img.top").style.clipPath = "inset(0 0 0 " + range.value + "%)";
  });
});
document.querySelectorAll("button.blink-toggle").forEach(function (button) {
  var timer = null;
  button.addEventListener("click", function () {
    var images = button.parentNode.querySelectorAll("img");
    if (timer) { clearInterval(timer); timer = null; button.textContent = "blink"; return; }
    button.textContent = "stop";
    timer = setInterval(function () {
      images.forEach(function (img) { img.classList.toggle("hidden"); });
    }, 500);
  });
});
document.body.dataset.ready = "1";
""".strip()
