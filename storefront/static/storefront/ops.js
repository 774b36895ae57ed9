// Refresh the ops panels in place every few seconds; the page works without this (meta refresh).
(function () {
  "use strict";
  var panels = document.getElementById("ops-panels");
  if (!panels || !window.fetch) return;
  var source = panels.dataset.source;
  var every = Math.max(2, Number(panels.dataset.refresh) || 5) * 1000;
  var updated = document.getElementById("ops-updated");
  var status = document.getElementById("ops-status");

  function refresh() {
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        panels.innerHTML = data.panels_html;
        updated.textContent = data.generated_at;
        updated.setAttribute("datetime", data.generated_at);
        status.textContent = "";
      })
      .catch(function (error) {
        status.textContent = " · refresh failed (" + error.message + "), retrying";
      })
      .finally(function () {
        window.setTimeout(refresh, every);
      });
  }
  window.setTimeout(refresh, every);
})();
