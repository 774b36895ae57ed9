// Progressive enhancement: fill the search box's datalist from /api/v1/search/suggest/.
// Without JavaScript the box is a plain search form.
(function () {
  var input = document.getElementById("site-search");
  var list = document.getElementById("search-suggestions");
  if (!input || !list || !window.fetch) return;
  var timer = null;
  var asked = "";
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var query = input.value.trim();
      if (query.length < 2 || query === asked) return;
      asked = query;
      fetch("/api/v1/search/suggest/?q=" + encodeURIComponent(query), {
        headers: { Accept: "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (body) {
          list.replaceChildren.apply(list, body.suggestions.map(function (item) {
            var option = document.createElement("option");
            option.value = item.name;
            return option;
          }));
        })
        .catch(function () {});
    }, 150);
  });
})();
