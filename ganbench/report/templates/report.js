(function () {
  "use strict";
  // What went wrong while the page ran, written into the page itself (data-errors on <body>) so that
  // a headless browser's DOM dump shows it: script errors, blocked content, images that did not decode.
  var body = document.body, errors = [];
  function report(text) { errors.push(text); body.setAttribute("data-errors", errors.join(" | ")); }
  window.addEventListener("error", function (event) {
    report(event.message ? "script error: " + event.message : "failed to load: " + (event.target.src || event.target.tagName));
  }, true);
  document.addEventListener("securitypolicyviolation", function (event) { report("blocked: " + event.blockedURI); });
  window.addEventListener("load", function () {
    var images = document.images, decoded = 0;
    for (var i = 0; i < images.length; i += 1) {
      if (images[i].complete && images[i].naturalWidth > 0) { decoded += 1; } else { report("image not decoded: " + images[i].alt); }
    }
    body.setAttribute("data-images", decoded + "/" + images.length);
  });
  body.setAttribute("data-js", "on");
  function value(row, index) {
    var cell = row.cells[index];
    var text = cell ? (cell.getAttribute("data-sort") || cell.textContent) : "";
    var number = Number(text);
    return text.trim() !== "" && isFinite(number) ? number : text.toLowerCase();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (head, index) {
      head.setAttribute("tabindex", "0");
      function sort() {
        var ascending = head.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
        head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = value(a, index), y = value(b, index);
          if (typeof x !== typeof y) { return typeof x === "number" ? -1 : 1; }  // numbers before text (empty cells last)
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      head.addEventListener("click", sort);
      head.addEventListener("keydown", function (event) { if (event.key === "Enter") { sort(); } });
    });
  });
})();
