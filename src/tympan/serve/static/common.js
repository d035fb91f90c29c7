// Shared by the pages: the server's token (from the page's ?token=, passed on to every API call and link),
// JSON and form requests that turn an error answer into an Error with the server's own message, and the nav.
"use strict";

const Tympan = (() => {
  const token = new URLSearchParams(location.search).get("token") || "";

  function withToken(url) {
    if (!token) return url;
    return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
  }

  async function answer(response) {
    const text = await response.text();
    let body;
    try { body = JSON.parse(text); } catch (e) { body = text; }
    if (!response.ok) {
      const detail = body && body.detail !== undefined ? body.detail : text;
      const error = new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
      error.status = response.status;
      throw error;
    }
    return body;
  }

  const send = (method) => (url, payload) => fetch(withToken(url), {
    method, headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload || {}),
  }).then(answer);

  const api = {
    get: (url) => fetch(withToken(url)).then(answer),
    post: send("POST"),
    put: send("PUT"),
    form: (url, form) => fetch(withToken(url), {method: "POST", body: form}).then(answer),
    del: (url) => fetch(withToken(url), {method: "DELETE"}).then(answer),
  };

  function nav(current) {
    const bar = document.createElement("nav");
    bar.className = "topbar";
    bar.innerHTML = '<span class="brand">Tympan</span>';
    for (const [href, label] of [["/", "Analysis"], ["/playground", "Playground"], ["/runs", "Runs"],
                                 ["/docs", "API"]]) {
      const a = document.createElement("a");
      a.href = withToken(href);
      a.textContent = label;
      if (href === current) a.className = "current";
      bar.appendChild(a);
    }
    document.body.prepend(bar);
  }

  return {token, withToken, api, nav};
})();
