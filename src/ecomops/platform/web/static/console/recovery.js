/* Recovery-codes page: copy the codes, or download them as a text file, one code per line. The codes are
   read from the page (never sent anywhere); no inline script, the CSP forbids it. */
(function () {
  "use strict";

  function codes() {
    return Array.prototype.map.call(document.querySelectorAll("#recovery-codes code"), function (c) {
      return c.textContent.trim();
    }).join("\n") + "\n";
  }

  var copy = document.getElementById("copy-codes");
  if (copy) {
    copy.addEventListener("click", function () {
      if (!navigator.clipboard) return;
      navigator.clipboard.writeText(codes()).then(function () {
        copy.textContent = copy.getAttribute("data-done");
      });
    });
  }

  var download = document.getElementById("download-codes");
  if (download) {
    download.addEventListener("click", function () {
      var url = URL.createObjectURL(new Blob([codes()], { type: "text/plain" }));
      var a = document.createElement("a");
      a.href = url;
      a.download = download.getAttribute("data-filename");
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
  }
})();
