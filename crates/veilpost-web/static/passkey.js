// Passkeys for staff sign-in: the one script Veilpost serves. It turns the server's
// WebAuthn options into what navigator.credentials expects, and the browser's answer
// back into JSON. Without JavaScript the TOTP form on the same page still works.
(function () {
  "use strict";
  function bytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); });
  }
  function text(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function call(path, body) {
    var csrf = document.querySelector("input[name=csrf]").value;
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }
  function register() {
    return call("/login/passkey/begin", { mode: "register" }).then(function (o) {
      var pk = o.publicKey;
      pk.challenge = bytes(pk.challenge);
      pk.user.id = bytes(pk.user.id);
      (pk.excludeCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (c) {
      return call("/login/passkey/finish", { mode: "register", credential: {
        id: c.id, rawId: text(c.rawId), type: c.type, extensions: {},
        response: {
          attestationObject: text(c.response.attestationObject),
          clientDataJSON: text(c.response.clientDataJSON)
        }
      } });
    });
  }
  function signIn() {
    return call("/login/passkey/begin", { mode: "signin" }).then(function (o) {
      var pk = o.publicKey;
      pk.challenge = bytes(pk.challenge);
      (pk.allowCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (c) {
      return call("/login/passkey/finish", { mode: "signin", credential: {
        id: c.id, rawId: text(c.rawId), type: c.type, extensions: {},
        response: {
          authenticatorData: text(c.response.authenticatorData),
          clientDataJSON: text(c.response.clientDataJSON),
          signature: text(c.response.signature),
          userHandle: c.response.userHandle ? text(c.response.userHandle) : null
        }
      } });
    });
  }
  var status = document.getElementById("passkey-status");
  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    if (!window.PublicKeyCredential) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "";
      (button.dataset.passkey === "register" ? register() : signIn()).then(function (r) {
        window.location.assign(r.next);
      }, function () {
        status.textContent = status.dataset.failed;
        button.disabled = false;
      });
    });
  });
})();
